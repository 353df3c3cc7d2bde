/** Lambda entry of the batch fan-out function: configuration and clients once per container, then the handler. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { DynamoDbBatchStore } from "../../adapters/aws/dynamodb-batch-store.js";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { S3BatchArtifactStore } from "../../adapters/aws/s3-batch-artifacts.js";
import { S3TextStore } from "../../adapters/aws/s3-text-store.js";
import { SqsBatchQueue, SqsRenderQueue } from "../../adapters/aws/sqs-render-queue.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { ENV } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { systemClock } from "../../core/ports.js";
import { readEnv } from "../env.js";
import { makeHandler } from "./handler.js";

const env = readEnv(
  {
    [ENV.jobsTable]: z.string().min(1),
    [ENV.renderQueueUrl]: z.url(),
    [ENV.batchQueueUrl]: z.url(),
    [ENV.payloadsBucket]: z.string().min(1),
    [ENV.outputsBucket]: z.string().min(1),
  },
  {
    component: SERVICES.batchFanOut,
    hints: {
      [ENV.jobsTable]: "the name of the jobs table",
      [ENV.renderQueueUrl]: "the URL of the render queue",
      [ENV.batchQueueUrl]: "the URL of the batch queue",
      [ENV.payloadsBucket]: "the name of the bucket that keeps request bodies and batch records",
      [ENV.outputsBucket]: "the name of the outputs bucket",
    },
  },
);

const dynamodb = new DynamoDBClient({});
const sqs = new SQSClient({});
const s3 = new S3Client({});

const logger = powertoolsLogger({ serviceName: SERVICES.batchFanOut });

const handle = makeHandler({
  jobs: new DynamoDbJobStore(dynamodb, env[ENV.jobsTable]),
  batches: new DynamoDbBatchStore(dynamodb, env[ENV.jobsTable]),
  renderQueue: new SqsRenderQueue(sqs, env[ENV.renderQueueUrl]),
  queue: new SqsBatchQueue(sqs, env[ENV.batchQueueUrl]),
  payloads: new S3TextStore(s3, env[ENV.payloadsBucket], "application/json"),
  artifacts: new S3BatchArtifactStore(s3, env[ENV.outputsBucket]),
  clock: systemClock,
  logger,
});

export const handler = withLambdaContext(logger, handle);
