/**
 * What a function may do to the resources of the deployment, declared in its definition as plain data:
 * per resource setting (the jobs table, a bucket, a queue, the signer, the signing-key secret) the IAM
 * actions its adapters send, with the DynamoDB partition keys and S3 object keys they address. lib/
 * turns a declaration into the role's policy (lib/permissions.ts) and nothing else grants; tests check
 * it against the synthesized roles, the commands the function's code can send, and the calls it makes
 * on the local stack. No CDK here: the Lambda bundles load definitions.
 */
import { BATCH_JOBS_INDEX, OPEN_JOBS_INDEX } from "../core/constants.js";

export type DynamoDbAction =
  | "dynamodb:GetItem"
  | "dynamodb:BatchGetItem"
  | "dynamodb:PutItem"
  | "dynamodb:UpdateItem"
  | "dynamodb:Query";
export type S3ObjectAction = "s3:GetObject" | "s3:PutObject" | "s3:AbortMultipartUpload";
export type SqsAction =
  | "sqs:SendMessage"
  | "sqs:ChangeMessageVisibility"
  | "sqs:GetQueueUrl"
  | "sqs:GetQueueAttributes";
export type KmsAction = "kms:Encrypt" | "kms:Decrypt";

/**
 * Items of the jobs table whose partition key matches one of `partitionKeys` (IAM `StringLike`
 * patterns, `*` for any text; the condition `dynamodb:LeadingKeys`), or, with `index`, that index's
 * partitions.
 */
export interface TableGrant {
  readonly actions: readonly DynamoDbAction[];
  readonly partitionKeys: readonly string[];
  /** A global secondary index the actions (Query) address instead of the table. */
  readonly index?: string;
}

/** Objects of a bucket under the key patterns (`outputs/*`). */
export interface ObjectGrant {
  readonly actions: readonly S3ObjectAction[];
  readonly objectKeys: readonly string[];
}

export type ResourceAccess =
  | { readonly service: "dynamodb"; readonly grants: readonly TableGrant[] }
  | { readonly service: "s3"; readonly grants: readonly ObjectGrant[] }
  | { readonly service: "sqs"; readonly actions: readonly SqsAction[] }
  | { readonly service: "lambda"; readonly actions: readonly "lambda:InvokeFunction"[] }
  | { readonly service: "secretsmanager"; readonly actions: readonly "secretsmanager:GetSecretValue"[] }
  /** A key used directly (not a store's key): only under an encryption context with exactly these keys. */
  | {
      readonly service: "kms";
      readonly actions: readonly KmsAction[];
      readonly encryptionContextKeys: readonly string[];
    };

/** The queue that feeds a function (its event source), which no setting names. */
export const EVENT_SOURCE_QUEUE = "eventSourceQueue";

/** A definition's declared access, by the setting that names each resource (or `eventSourceQueue`). */
export type Permissions<K extends string = string> = Readonly<
  Partial<Record<K | typeof EVENT_SOURCE_QUEUE, ResourceAccess>>
>;

/**
 * What the SQS event source mapping does with the function's role on its queue: receive, delete,
 * hold (visibility) and read the queue's attributes. Follows from `eventSource` in a definition.
 */
export const EVENT_SOURCE_ACTIONS = [
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:GetQueueAttributes",
] as const;

/** The partitions of the jobs table, as `dynamodb:LeadingKeys` patterns (keys: adapters/aws/jobs-table.ts). */
export const PARTITIONS = {
  /** A job's status and request items. */
  job: "TENANT#*#JOB#*",
  batch: "TENANT#*#BATCH#*",
  idempotency: "TENANT#*#IDEMPOTENCY#*",
  /** Render-cache entries: the api reads them, the worker writes them. */
  renderCache: "TENANT#*#CACHE#*",
  settings: "TENANT#*#SETTINGS",
  /** The tenant's webhook signing secret. */
  webhookSecret: "TENANT#*#WEBHOOK",
  templateVersions: "TENANT#*#TEMPLATE#*",
  templateIndex: "TENANT#*#TEMPLATES",
  /** API-key hashes → tenant: the only partitions not of one tenant. */
  apiKey: "APIKEY#*",
} as const;

/** Partitions of the jobs table's indexes, by index name. */
export const INDEX_PARTITIONS = {
  [BATCH_JOBS_INDEX.indexName]: "TENANT#*#BATCH#*",
  [OPEN_JOBS_INDEX.indexName]: "OPEN#*",
} as const;

/** Actions that change data (the rest only read): a customer-managed key must also encrypt for them. */
export function writes(action: string): boolean {
  return /^(dynamodb:(PutItem|UpdateItem)|s3:PutObject|sqs:SendMessage)$/.test(action);
}

/**
 * The IAM action a command of an AWS SDK client needs: `GetItemCommand` of DynamoDB is
 * `dynamodb:GetItem`, an S3 multipart part is `s3:PutObject`. Undefined for a command Kiln has not
 * mapped, which the tests then name.
 */
export function iamActionOf(service: string, command: string): string | undefined {
  const name = command.replace(/Command$/, "");
  const mapped = COMMAND_ACTIONS[`${service}:${name}`];
  if (mapped) return mapped;
  return KNOWN_ACTIONS.has(`${service}:${name}`) ? `${service}:${name}` : undefined;
}

const COMMAND_ACTIONS: Readonly<Record<string, string>> = {
  // The document client's commands (lib-dynamodb) are the low-level ones under other names.
  "dynamodb:Get": "dynamodb:GetItem",
  "dynamodb:Put": "dynamodb:PutItem",
  "dynamodb:Update": "dynamodb:UpdateItem",
  "dynamodb:Delete": "dynamodb:DeleteItem",
  "dynamodb:BatchGet": "dynamodb:BatchGetItem",
  "dynamodb:BatchWrite": "dynamodb:BatchWriteItem",
  "s3:HeadObject": "s3:GetObject",
  "s3:CreateMultipartUpload": "s3:PutObject",
  "s3:UploadPart": "s3:PutObject",
  "s3:CompleteMultipartUpload": "s3:PutObject",
  "s3:ListObjectsV2": "s3:ListBucket",
  "sqs:SendMessageBatch": "sqs:SendMessage",
  "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
  "lambda:Invoke": "lambda:InvokeFunction",
};

const KNOWN_ACTIONS = new Set([
  "dynamodb:GetItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchGetItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:Query",
  "dynamodb:Scan",
  "s3:GetObject",
  "s3:PutObject",
  "s3:DeleteObject",
  "s3:AbortMultipartUpload",
  "sqs:SendMessage",
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:GetQueueUrl",
  "sqs:GetQueueAttributes",
  "secretsmanager:GetSecretValue",
  "kms:Encrypt",
  "kms:Decrypt",
]);

/** Whether `value` matches the IAM `StringLike` pattern (`*` any text, `?` one character). */
export function matchesPattern(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "s").test(value);
}

/** One AWS call a function made, as the local stack records it (functions/local/aws-calls.ts). */
export interface AwsCall {
  readonly function: string;
  /** `dynamodb`, `s3`, `sqs`, `lambda`, `secretsmanager`. */
  readonly service: string;
  readonly command: string;
  /** The table, bucket, queue URL, function, secret or key the call addressed. */
  readonly resource: string;
  /** DynamoDB: the partition keys it addressed. */
  readonly partitionKeys?: readonly string[];
  /** DynamoDB: the index it queried. */
  readonly index?: string;
  /** S3: the object key. */
  readonly objectKey?: string;
  /** KMS: the keys of the encryption context it gave. */
  readonly encryptionContextKeys?: readonly string[];
}

/**
 * Why `permissions` (keyed by resource setting, with `resourceOf` naming each one's local resource)
 * does not allow `call`, or undefined when it does.
 */
export function deniedBecause(
  permissions: Permissions,
  resourceOf: (setting: string) => string | undefined,
  call: AwsCall,
): string | undefined {
  const action = iamActionOf(call.service, call.command);
  if (!action) return `${call.service} ${call.command} has no IAM action in iamActionOf`;
  const entries = Object.entries(permissions).filter(
    ([setting, access]) => access?.service === call.service && resourceOf(setting) === call.resource,
  );
  if (entries.length === 0) return `no declared access to ${call.service} ${call.resource}`;
  for (const [, access] of entries) {
    if (!access) continue;
    switch (access.service) {
      case "dynamodb": {
        const keys = call.partitionKeys ?? [];
        const allowed = access.grants.some(
          (g) =>
            g.actions.includes(action as DynamoDbAction) &&
            (g.index ?? undefined) === call.index &&
            keys.every((k) => g.partitionKeys.some((p) => matchesPattern(p, k))),
        );
        if (allowed) return undefined;
        break;
      }
      case "s3": {
        const key = call.objectKey ?? "";
        if (
          access.grants.some(
            (g) =>
              g.actions.includes(action as S3ObjectAction) &&
              g.objectKeys.some((p) => matchesPattern(p, key)),
          )
        )
          return undefined;
        break;
      }
      case "kms": {
        const context = [...(call.encryptionContextKeys ?? [])].sort().join(",");
        if (
          (access.actions as readonly string[]).includes(action) &&
          context === [...access.encryptionContextKeys].sort().join(",")
        )
          return undefined;
        break;
      }
      default:
        if ((access.actions as readonly string[]).includes(action)) return undefined;
    }
  }
  const where = call.index ? ` index ${call.index}` : "";
  const keys = call.partitionKeys?.join(", ") ?? call.objectKey ?? "";
  return `${action} on ${call.resource}${where}${keys ? ` (${keys})` : ""} is not declared`;
}
