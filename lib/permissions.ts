/**
 * The one place lib/ grants a Kiln function anything: the access its definition declares
 * (functions/handlers/permissions.ts), turned into policy statements on the resources' ARNs, and the
 * receive side of its queue event source. Nothing else adds to a function's role.
 */
import { Names, Validations } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { FunctionDefinition } from "../functions/handlers/function-definition.js";
import {
  EVENT_SOURCE_ACTIONS,
  EVENT_SOURCE_QUEUE,
  type ResourceAccess,
  writes,
} from "../functions/handlers/permissions.js";
import { grantKeyUse } from "./constructs/encryption-key.js";
import { iamResourceFinding } from "./constructs/nag-findings.js";

/** The deployed resource behind a setting a definition declares access to. */
export type DeclaredResource =
  | { readonly table: dynamodb.ITable }
  | { readonly bucket: s3.IBucket }
  | { readonly queue: sqs.IQueue }
  | { readonly secret: secretsmanager.ISecret }
  /** A key the function uses itself (encrypts and decrypts with). */
  | { readonly key: kms.IKey }
  /** A function the grantee may invoke; its own `grantInvoke` decides which ARNs (the signer's). */
  | { readonly invoke: { grantInvoke(grantee: iam.IGrantable): void } };

export type DeclaredResources<D extends FunctionDefinition> = {
  readonly [K in keyof D["permissions"]]?: DeclaredResource;
};

/**
 * Grants `role` what `definition` declares on each of `resources` (by setting name), and no more. A
 * resource passed that the definition declares nothing on, or of the wrong kind, fails the synth.
 */
export function grantDeclared<D extends FunctionDefinition>(
  role: iam.Role,
  definition: D,
  resources: DeclaredResources<D>,
): void {
  for (const [setting, resource] of Object.entries(resources) as Array<[string, DeclaredResource]>) {
    const access = (definition.permissions as Record<string, ResourceAccess | undefined>)[setting];
    if (!access) {
      throw new Error(
        `${definition.name} declares no access to ${setting}: add it to the definition's permissions or pass nothing for it.`,
      );
    }
    grantAccess(role, definition.name, setting, access, resource);
  }
}

function grantAccess(
  role: iam.Role,
  name: string,
  setting: string,
  access: ResourceAccess,
  resource: DeclaredResource,
): void {
  const wrongKind = (kind: string) =>
    new Error(`${name}'s ${setting} is declared as ${access.service} access: pass a ${kind} for it.`);
  const allow = (actions: readonly string[], resources: string[], conditions?: Record<string, unknown>) =>
    role.addToPolicy(new iam.PolicyStatement({ actions: [...actions], resources, conditions }));
  const actions: string[] = [];
  switch (access.service) {
    case "dynamodb": {
      if (!("table" in resource)) throw wrongKind("table");
      for (const grant of access.grants) {
        const arn = grant.index ? `${resource.table.tableArn}/index/${grant.index}` : resource.table.tableArn;
        // Only items whose partition key (or the index's) matches: never another kind of item.
        allow(grant.actions, [arn], {
          "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [...grant.partitionKeys] },
        });
        actions.push(...grant.actions);
      }
      break;
    }
    case "s3": {
      if (!("bucket" in resource)) throw wrongKind("bucket");
      for (const grant of access.grants) {
        const objects = grant.objectKeys.map((pattern) => resource.bucket.arnForObjects(pattern));
        allow(grant.actions, objects);
        actions.push(...grant.actions);
        Validations.of(role).acknowledge(
          ...objects.map((objectArn) => ({
            id: iamResourceFinding(role, objectArn),
            reason:
              "Object keys are per tenant and made at run time (content hashes, job ids, tenants' asset names), so the permission is scoped to the key prefix its definition declares, not to keys known at deploy time.",
          })),
        );
      }
      break;
    }
    case "sqs":
      if (!("queue" in resource)) throw wrongKind("queue");
      allow(access.actions, [resource.queue.queueArn]);
      actions.push(...access.actions);
      break;
    case "secretsmanager":
      if (!("secret" in resource)) throw wrongKind("secret");
      allow(access.actions, [resource.secret.secretArn]);
      actions.push(...access.actions);
      break;
    case "kms": {
      if (!("key" in resource)) throw wrongKind("key");
      // Only under an encryption context of exactly these keys, each present.
      allow(access.actions, [resource.key.keyArn], {
        "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": [...access.encryptionContextKeys] },
        Null: Object.fromEntries(
          access.encryptionContextKeys.map((k) => [`kms:EncryptionContext:${k}`, "false"]),
        ),
      });
      return;
    }
    case "lambda":
      if (!("invoke" in resource)) throw wrongKind("function to invoke");
      resource.invoke.grantInvoke(role);
      return;
  }
  grantKeyUse(role, storeKey(resource), actions.some(writes));
}

/** The customer-managed key a store is encrypted with, if any: the function needs it for the store. */
function storeKey(resource: DeclaredResource): kms.IKey | undefined {
  if ("table" in resource) return resource.table.encryptionKey;
  if ("bucket" in resource) return resource.bucket.encryptionKey;
  if ("queue" in resource) return resource.queue.encryptionMasterKey;
  if ("secret" in resource) return resource.secret.encryptionKey;
  return undefined;
}

export interface QueueEventSourceOptions {
  readonly batchSize: number;
  readonly maxConcurrency: number;
}

/**
 * Feeds `fn` from `queue` (partial batch responses) as the definition's `eventSource` says, granting
 * the receive side (EVENT_SOURCE_ACTIONS) and what the definition declares on `eventSourceQueue`. The
 * mapping keeps the id SqsEventSource gives it, which also grants, more broadly.
 */
export function addQueueEventSource(
  fn: lambda.Function,
  role: iam.Role,
  definition: FunctionDefinition,
  queue: sqs.IQueue,
  options: QueueEventSourceOptions,
): lambda.EventSourceMapping {
  if (!definition.eventSource) {
    throw new Error(`${definition.name} has no eventSource in its definition: it is not fed by a queue.`);
  }
  const mapping = fn.addEventSourceMapping(`SqsEventSource:${Names.nodeUniqueId(queue.node)}`, {
    eventSourceArn: queue.queueArn,
    batchSize: options.batchSize,
    maxConcurrency: options.maxConcurrency,
    reportBatchItemFailures: true,
  });
  role.addToPolicy(
    new iam.PolicyStatement({ actions: [...EVENT_SOURCE_ACTIONS], resources: [queue.queueArn] }),
  );
  grantKeyUse(role, queue.encryptionMasterKey, false);
  const declared = (definition.permissions as Record<string, ResourceAccess | undefined>)[EVENT_SOURCE_QUEUE];
  if (declared) grantAccess(role, definition.name, EVENT_SOURCE_QUEUE, declared, { queue });
  return mapping;
}
