/** Lambda entry of the api function: configuration and clients once per container, then the handler. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { DynamoDbApiKeyStore } from "../../adapters/aws/dynamodb-api-key-store.js";
import { DynamoDbBatchStore } from "../../adapters/aws/dynamodb-batch-store.js";
import { DynamoDbIdempotencyStore } from "../../adapters/aws/dynamodb-idempotency-store.js";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { DynamoDbTemplateStore } from "../../adapters/aws/dynamodb-template-store.js";
import { DynamoDbTenantSettingsStore } from "../../adapters/aws/dynamodb-tenant-settings-store.js";
import { DynamoDbWebhookSecretStore } from "../../adapters/aws/dynamodb-webhook-secret-store.js";
import { LambdaUrlSigner } from "../../adapters/aws/lambda-url-signer.js";
import { S3AssetStore } from "../../adapters/aws/s3-asset-store.js";
import { S3RecordsSource } from "../../adapters/aws/s3-batch-artifacts.js";
import { S3TextStore } from "../../adapters/aws/s3-text-store.js";
import { SqsBatchQueue, SqsRenderQueue } from "../../adapters/aws/sqs-render-queue.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { ENV } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { systemClock } from "../../core/ports.js";
import { callbackPolicyFrom } from "../../core/webhooks.js";
import { readEnv } from "../env.js";
import { makeHandler } from "./handler.js";

const env = readEnv(
  {
    [ENV.jobsTable]: z.string().min(1),
    [ENV.renderQueueUrl]: z.url(),
    [ENV.signerFunctionName]: z.string().min(1),
    [ENV.payloadsBucket]: z.string().min(1),
    [ENV.callbackSchemes]: z.string().optional(),
    [ENV.callbackHosts]: z.string().optional(),
    [ENV.templatesBucket]: z.string().min(1),
    [ENV.assetsBucket]: z.string().min(1),
    // Without it the batch routes answer 404.
    [ENV.batchQueueUrl]: z.url().optional(),
  },
  {
    component: "api",
    hints: {
      [ENV.jobsTable]: "the name of the jobs table",
      [ENV.renderQueueUrl]: "the URL of the render queue",
      [ENV.signerFunctionName]: "the name or ARN of the sign-assets function",
      [ENV.payloadsBucket]: "the name of the bucket that keeps large request bodies",
      [ENV.templatesBucket]: "the name of the templates bucket",
      [ENV.assetsBucket]: "the name of the assets bucket",
    },
  },
);

const dynamodb = new DynamoDBClient({});
const s3 = new S3Client({});
const batchQueueUrl = env[ENV.batchQueueUrl];

const logger = powertoolsLogger({ serviceName: SERVICES.api });

const handle = makeHandler({
  jobs: new DynamoDbJobStore(dynamodb, env[ENV.jobsTable]),
  apiKeys: new DynamoDbApiKeyStore(dynamodb, env[ENV.jobsTable]),
  queue: new SqsRenderQueue(new SQSClient({}), env[ENV.renderQueueUrl]),
  signer: new LambdaUrlSigner(new LambdaClient({}), env[ENV.signerFunctionName]),
  payloads: new S3TextStore(s3, env[ENV.payloadsBucket], "application/json"),
  idempotency: new DynamoDbIdempotencyStore(dynamodb, env[ENV.jobsTable]),
  webhookSecrets: new DynamoDbWebhookSecretStore(dynamodb, env[ENV.jobsTable]),
  settings: new DynamoDbTenantSettingsStore(dynamodb, env[ENV.jobsTable]),
  callbackPolicy: callbackPolicyFrom(env[ENV.callbackSchemes], env[ENV.callbackHosts]),
  templates: {
    versions: new DynamoDbTemplateStore(dynamodb, env[ENV.jobsTable]),
    sources: new S3TextStore(s3, env[ENV.templatesBucket], "text/html; charset=utf-8"),
  },
  assets: new S3AssetStore(s3, env[ENV.assetsBucket]),
  ...(batchQueueUrl
    ? {
        batches: {
          store: new DynamoDbBatchStore(dynamodb, env[ENV.jobsTable]),
          queue: new SqsBatchQueue(new SQSClient({}), batchQueueUrl),
          records: new S3RecordsSource(s3, env[ENV.assetsBucket]),
        },
      }
    : {}),
  clock: systemClock,
  logger,
});

export const handler = withLambdaContext(logger, handle);
