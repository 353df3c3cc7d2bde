/** The batch fan-out function's adapters and handler, from its configuration (function.ts). */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDbBatchStore } from "../../adapters/aws/dynamodb-batch-store.js";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { S3BatchArtifactStore } from "../../adapters/aws/s3-batch-artifacts.js";
import { S3TextStore } from "../../adapters/aws/s3-text-store.js";
import { SqsBatchQueue, SqsRenderQueue } from "../../adapters/aws/sqs-render-queue.js";
import { PdfLibMerger } from "../../adapters/pdf/pdf-lib-finisher.js";
import type { ConfigOf } from "../function-definition.js";
import { adapterWrapper, type ClientsOf, type FunctionRuntime } from "../wiring.js";
import type { batchFanOutFunction } from "./function.js";
import { makeHandler } from "./handler.js";

export const batchFanOutClients = { dynamodb: DynamoDBClient, s3: S3Client, sqs: SQSClient } as const;

export function wireBatchFanOut(
  clients: ClientsOf<typeof batchFanOutClients>,
  config: ConfigOf<typeof batchFanOutFunction>,
  runtime: FunctionRuntime,
) {
  const adapt = adapterWrapper(runtime);
  const { dynamodb, s3, sqs } = clients;
  return makeHandler({
    jobs: adapt(new DynamoDbJobStore(dynamodb, config.jobsTable, config.jobRetentionDays), "dynamodb.jobs"),
    batches: adapt(
      new DynamoDbBatchStore(dynamodb, config.jobsTable, config.jobRetentionDays),
      "dynamodb.batches",
    ),
    renderQueue: adapt(new SqsRenderQueue(sqs, config.renderQueueUrl), "sqs.render"),
    queue: adapt(new SqsBatchQueue(sqs, config.batchQueueUrl), "sqs.batches"),
    payloads: adapt(new S3TextStore(s3, config.payloadsBucket, "application/json"), "s3.payloads"),
    artifacts: adapt(new S3BatchArtifactStore(s3, config.outputsBucket), "s3.batch-artifacts"),
    merger: new PdfLibMerger(),
    checkEverySeconds: config.checkEverySeconds,
    clock: runtime.clock,
    logger: runtime.logger,
  });
}
