/** The api function's adapters and handler, from its configuration (function.ts). */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDbApiKeyStore } from "../../adapters/aws/dynamodb-api-key-store.js";
import { DynamoDbBatchStore } from "../../adapters/aws/dynamodb-batch-store.js";
import { DynamoDbIdempotencyStore } from "../../adapters/aws/dynamodb-idempotency-store.js";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { DynamoDbRenderCache } from "../../adapters/aws/dynamodb-render-cache.js";
import { DynamoDbTemplateStore } from "../../adapters/aws/dynamodb-template-store.js";
import { DynamoDbTenantSettingsStore } from "../../adapters/aws/dynamodb-tenant-settings-store.js";
import { DynamoDbWebhookSecretStore } from "../../adapters/aws/dynamodb-webhook-secret-store.js";
import { KmsSecretCipher } from "../../adapters/aws/kms-secret-cipher.js";
import { LambdaUrlSigner } from "../../adapters/aws/lambda-url-signer.js";
import { S3AssetStore } from "../../adapters/aws/s3-asset-store.js";
import { S3RecordsSource } from "../../adapters/aws/s3-batch-artifacts.js";
import { S3TextStore } from "../../adapters/aws/s3-text-store.js";
import { SqsBatchQueue, SqsRenderQueue, SqsWebhookQueue } from "../../adapters/aws/sqs-render-queue.js";
import { PAGE_SECRETS_CONTEXT_KEY } from "../../core/constants.js";
import type { Metrics, RateLimiter } from "../../core/ports.js";
import { RENDERER } from "../../core/renderer-identity.js";
import { callbackPolicyFrom } from "../../core/webhooks.js";
import type { ConfigOf } from "../function-definition.js";
import { adapterWrapper, type ClientsOf, type FunctionRuntime } from "../wiring.js";
import type { apiFunction } from "./function.js";
import { makeHandler } from "./handler.js";

export const apiClients = {
  dynamodb: DynamoDBClient,
  s3: S3Client,
  sqs: SQSClient,
  lambda: LambdaClient,
  kms: KMSClient,
} as const;

export interface ApiRuntime extends FunctionRuntime {
  /** Per-tenant throttling in the function; on AWS the usage plan throttles before it. @default none */
  readonly rateLimiter?: RateLimiter;
  /** @default randomUUID */
  readonly newId?: () => string;
  /** Counts render-cache hits. @default none */
  readonly metrics?: Metrics;
}

export function wireApi(
  clients: ClientsOf<typeof apiClients>,
  config: ConfigOf<typeof apiFunction>,
  runtime: ApiRuntime,
) {
  const adapt = adapterWrapper(runtime);
  const { dynamodb, s3, sqs } = clients;
  const table = config.jobsTable;
  const assetsBucket = new S3AssetStore(s3, config.assetsBucket);
  const assets = adapt(assetsBucket, "s3.assets");
  const settings = adapt(new DynamoDbTenantSettingsStore(dynamodb, table), "dynamodb.settings");
  return makeHandler({
    jobs: adapt(new DynamoDbJobStore(dynamodb, table, config.jobRetentionDays), "dynamodb.jobs"),
    apiKeys: adapt(new DynamoDbApiKeyStore(dynamodb, table), "dynamodb.apiKeys"),
    queue: adapt(new SqsRenderQueue(sqs, config.renderQueueUrl), "sqs.render"),
    signer: adapt(new LambdaUrlSigner(clients.lambda, config.signerFunctionName), "lambda.signer"),
    payloads: adapt(new S3TextStore(s3, config.payloadsBucket, "application/json"), "s3.payloads"),
    idempotency: adapt(new DynamoDbIdempotencyStore(dynamodb, table), "dynamodb.idempotency"),
    webhookSecrets: adapt(
      new DynamoDbWebhookSecretStore(
        dynamodb,
        table,
        adapt(new KmsSecretCipher(clients.kms, config.webhookSecretsKey), "kms.secrets"),
      ),
      "dynamodb.secrets",
    ),
    webhookSecretOverlapSeconds: config.webhookSecretOverlapSeconds,
    settings,
    pageSecrets: adapt(
      new KmsSecretCipher(clients.kms, config.pageSecretsKey, { contextKey: PAGE_SECRETS_CONTEXT_KEY }),
      "kms.pageSecrets",
    ),
    callbackPolicy: callbackPolicyFrom(config.callbackSchemes, config.callbackHosts),
    templates: {
      versions: adapt(new DynamoDbTemplateStore(dynamodb, table), "dynamodb.templates"),
      sources: adapt(new S3TextStore(s3, config.templatesBucket, "text/html; charset=utf-8"), "s3.templates"),
    },
    assets,
    assetUploads: adapt(assetsBucket, "s3.assetUploads"),
    renderCache: {
      entries: adapt(new DynamoDbRenderCache(dynamodb, table), "dynamodb.renderCache"),
      rendererIdentity: RENDERER,
      assets,
      settings,
      webhooks: adapt(new SqsWebhookQueue(sqs, config.webhookQueueUrl), "sqs.webhooks"),
    },
    ...(config.batchQueueUrl
      ? {
          batches: {
            store: adapt(
              new DynamoDbBatchStore(dynamodb, table, config.jobRetentionDays),
              "dynamodb.batches",
            ),
            queue: adapt(new SqsBatchQueue(sqs, config.batchQueueUrl), "sqs.batches"),
            records: new S3RecordsSource(s3, config.assetsBucket),
          },
        }
      : {}),
    ...(runtime.rateLimiter ? { rateLimiter: runtime.rateLimiter } : {}),
    ...(runtime.newId ? { newId: runtime.newId } : {}),
    ...(runtime.metrics ? { metrics: runtime.metrics } : {}),
    clock: runtime.clock,
    logger: runtime.logger,
  });
}
