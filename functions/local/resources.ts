import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  paginateScan,
  ResourceInUseException,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import {
  BATCH_JOBS_INDEX,
  BATCH_QUEUE,
  JOBS_TABLE,
  OPEN_JOBS_INDEX,
  RENDER_QUEUE,
  WEBHOOK_QUEUE,
} from "../core/constants.js";

/** Resource names of the local stack (the CDK app names its own per stage). */
export const LOCAL_NAMES = {
  jobsTable: "kiln-jobs",
  renderQueue: "kiln-render",
  deadLetterQueue: "kiln-render-dlq",
  outputsBucket: "kiln-outputs",
  payloadsBucket: "kiln-payloads",
  templatesBucket: "kiln-templates",
  assetsBucket: "kiln-assets",
  webhookQueue: "kiln-webhooks",
  webhookDeadLetterQueue: "kiln-webhooks-dlq",
  batchQueue: "kiln-batches",
  batchDeadLetterQueue: "kiln-batches-dlq",
  signerFunction: "kiln-sign-assets",
  /** The secret holding the URL-signing private key (served from the data dir's key). */
  signingKeySecret: "kiln-signing-key",
  /** The KMS key that encrypts webhook secrets (its material is made in the data dir). */
  webhookSecretsKey: "alias/kiln-webhook-secrets",
  /** The KMS key that encrypts the headers and cookies of URL jobs. */
  pageSecretsKey: "alias/kiln-page-secrets",
} as const;

/** Where a running local stack tells other processes (`kiln redrive`) how to reach it, in its data dir. */
export const LOCAL_ENDPOINTS_FILE = "local-endpoints.json";

/**
 * The jobs table from the same key schema the CDK app uses. Idempotent. A table kept in `dataDir`
 * from before one of its indexes existed is rebuilt with them, items and all: the DynamoDB stand-in
 * cannot add an index to an existing table. (Jobs stored before the open-jobs index carry none of its
 * keys, so the reconciler does not see them.) The items are written to a file in `dataDir` first, so
 * a stop half-way loses nothing (the file is kept until they are back).
 */
export async function ensureJobsTable(
  client: DynamoDBClient,
  tableName: string,
  dataDir?: string,
): Promise<void> {
  try {
    await client.send(new CreateTableCommand(jobsTableDefinition(tableName)));
    return;
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  const missing = JOBS_TABLE_INDEXES.filter((name) => !present.has(name));
  if (missing.length === 0) return;
  if (dataDir === undefined) throw new Error(`The table ${tableName} lacks the ${missing.join(", ")} index.`);

  const items: Array<Record<string, AttributeValue>> = [];
  for await (const page of paginateScan({ client }, { TableName: tableName, ConsistentRead: true })) {
    items.push(...(page.Items ?? []));
  }
  const backup = join(dataDir, `${tableName}-before-${missing.join("-")}-index.json`);
  await writeFile(backup, JSON.stringify(items));
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  await waitUntilTableNotExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
  await client.send(new CreateTableCommand(jobsTableDefinition(tableName)));
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
  for (let i = 0; i < items.length; i += 25) {
    let pending: Array<Record<string, AttributeValue>> = items.slice(i, i + 25);
    while (pending.length > 0) {
      const { UnprocessedItems } = await client.send(
        new BatchWriteItemCommand({
          RequestItems: { [tableName]: pending.map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
      pending = (UnprocessedItems?.[tableName] ?? []).flatMap((r) =>
        r.PutRequest?.Item ? [r.PutRequest.Item] : [],
      );
    }
  }
  await rm(backup, { force: true });
}

/** The indexes the jobs table has, from the same definitions the CDK app uses. */
const JOBS_TABLE_INDEXES: readonly string[] = [BATCH_JOBS_INDEX.indexName, OPEN_JOBS_INDEX.indexName];

function jobsTableDefinition(tableName: string) {
  const { partitionKey, sortKey } = JOBS_TABLE;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    KeySchema: [
      { AttributeName: partitionKey.name, KeyType: "HASH" as const },
      { AttributeName: sortKey.name, KeyType: "RANGE" as const },
    ],
    AttributeDefinitions: [
      { AttributeName: partitionKey.name, AttributeType: partitionKey.type },
      { AttributeName: sortKey.name, AttributeType: sortKey.type },
      {
        AttributeName: BATCH_JOBS_INDEX.partitionKey.name,
        AttributeType: BATCH_JOBS_INDEX.partitionKey.type,
      },
      { AttributeName: BATCH_JOBS_INDEX.sortKey.name, AttributeType: BATCH_JOBS_INDEX.sortKey.type },
      {
        AttributeName: OPEN_JOBS_INDEX.partitionKey.name,
        AttributeType: OPEN_JOBS_INDEX.partitionKey.type,
      },
      { AttributeName: OPEN_JOBS_INDEX.sortKey.name, AttributeType: OPEN_JOBS_INDEX.sortKey.type },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: BATCH_JOBS_INDEX.indexName,
        KeySchema: [
          { AttributeName: BATCH_JOBS_INDEX.partitionKey.name, KeyType: "HASH" as const },
          { AttributeName: BATCH_JOBS_INDEX.sortKey.name, KeyType: "RANGE" as const },
        ],
        Projection: {
          ProjectionType: "INCLUDE" as const,
          NonKeyAttributes: [...BATCH_JOBS_INDEX.projectedAttributes],
        },
      },
      {
        IndexName: OPEN_JOBS_INDEX.indexName,
        KeySchema: [
          { AttributeName: OPEN_JOBS_INDEX.partitionKey.name, KeyType: "HASH" as const },
          { AttributeName: OPEN_JOBS_INDEX.sortKey.name, KeyType: "RANGE" as const },
        ],
        Projection: { ProjectionType: "KEYS_ONLY" as const },
      },
    ],
  };
}

export interface RenderQueues {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
}

/** The render queue and its dead-letter queue, wired with the same redrive policy as in AWS. Idempotent. */
export async function ensureRenderQueues(
  client: SQSClient,
  options: { visibilityTimeoutSeconds: number; maxReceiveCount?: number },
): Promise<RenderQueues> {
  return ensureQueueWithDlq(client, {
    name: LOCAL_NAMES.renderQueue,
    dlqName: LOCAL_NAMES.deadLetterQueue,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    maxReceiveCount: options.maxReceiveCount ?? RENDER_QUEUE.maxReceiveCount,
    retentionSeconds: RENDER_QUEUE.retentionSeconds,
  });
}

/** The webhook queue (deliveries and their delayed retries) and its dead-letter queue. Idempotent. */
export async function ensureWebhookQueues(
  client: SQSClient,
  options: { visibilityTimeoutSeconds?: number } = {},
): Promise<RenderQueues> {
  return ensureQueueWithDlq(client, {
    name: LOCAL_NAMES.webhookQueue,
    dlqName: LOCAL_NAMES.webhookDeadLetterQueue,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? WEBHOOK_QUEUE.visibilityTimeoutSeconds,
    maxReceiveCount: WEBHOOK_QUEUE.maxReceiveCount,
    retentionSeconds: WEBHOOK_QUEUE.retentionSeconds,
  });
}

/** The batch queue (fan-out chunks and completion checks) and its dead-letter queue. Idempotent. */
export async function ensureBatchQueues(
  client: SQSClient,
  options: { visibilityTimeoutSeconds?: number } = {},
): Promise<RenderQueues> {
  return ensureQueueWithDlq(client, {
    name: LOCAL_NAMES.batchQueue,
    dlqName: LOCAL_NAMES.batchDeadLetterQueue,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? BATCH_QUEUE.visibilityTimeoutSeconds,
    maxReceiveCount: BATCH_QUEUE.maxReceiveCount,
    retentionSeconds: BATCH_QUEUE.retentionSeconds,
  });
}

async function ensureQueueWithDlq(
  client: SQSClient,
  options: {
    name: string;
    dlqName: string;
    visibilityTimeoutSeconds: number;
    maxReceiveCount: number;
    retentionSeconds: number;
  },
): Promise<RenderQueues> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: options.dlqName,
      Attributes: { MessageRetentionPeriod: String(options.retentionSeconds) },
    }),
  );
  const dlqUrl = required(dlq.QueueUrl, "dead-letter queue URL");
  const dlqAttributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
  );
  const attributes = {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(options.retentionSeconds),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: required(dlqAttributes.Attributes?.QueueArn, "dead-letter queue ARN"),
      maxReceiveCount: options.maxReceiveCount,
    }),
  };
  // Created bare, then configured: a queue kept in the data dir from an earlier start with other
  // settings would make CreateQueue with attributes fail (QueueNameExists).
  const queue = await client.send(new CreateQueueCommand({ QueueName: options.name }));
  const queueUrl = required(queue.QueueUrl, "queue URL");
  await client.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: attributes }));
  const queueAttributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  return {
    queueUrl,
    queueArn: required(queueAttributes.Attributes?.QueueArn, "queue ARN"),
    deadLetterQueueUrl: dlqUrl,
  };
}

export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw err;
  }
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`The SQS stand-in returned no ${what}.`);
  return value;
}
