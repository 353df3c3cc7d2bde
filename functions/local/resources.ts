import { CreateTableCommand, type DynamoDBClient, ResourceInUseException } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { JOBS_TABLE, RENDER_QUEUE } from "../core/constants.js";

/** Resource names of the local stack (the CDK app names its own per stage). */
export const LOCAL_NAMES = {
  jobsTable: "kiln-jobs",
  renderQueue: "kiln-render",
  deadLetterQueue: "kiln-render-dlq",
  outputsBucket: "kiln-outputs",
  signerFunction: "kiln-sign-assets",
} as const;

/** The jobs table from the same key schema the CDK app uses. Idempotent. */
export async function ensureJobsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { partitionKey, sortKey } = JOBS_TABLE;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: partitionKey.name, KeyType: "HASH" },
          { AttributeName: sortKey.name, KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: partitionKey.name, AttributeType: partitionKey.type },
          { AttributeName: sortKey.name, AttributeType: sortKey.type },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
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
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.deadLetterQueue,
      Attributes: { MessageRetentionPeriod: String(RENDER_QUEUE.retentionSeconds) },
    }),
  );
  const dlqUrl = required(dlq.QueueUrl, "dead-letter queue URL");
  const dlqAttributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
  );
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.renderQueue,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(RENDER_QUEUE.retentionSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: required(dlqAttributes.Attributes?.QueueArn, "dead-letter queue ARN"),
          maxReceiveCount: options.maxReceiveCount ?? RENDER_QUEUE.maxReceiveCount,
        }),
      },
    }),
  );
  const queueUrl = required(queue.QueueUrl, "render queue URL");
  const attributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  return {
    queueUrl,
    queueArn: required(attributes.Attributes?.QueueArn, "render queue ARN"),
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
