/** The render worker's adapters and handler, from its configuration (function.ts). */
import { availableParallelism } from "node:os";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { DynamoDbRenderCache } from "../../adapters/aws/dynamodb-render-cache.js";
import { DynamoDbTemplateStore } from "../../adapters/aws/dynamodb-template-store.js";
import { DynamoDbTenantSettingsStore } from "../../adapters/aws/dynamodb-tenant-settings-store.js";
import { KmsSecretCipher } from "../../adapters/aws/kms-secret-cipher.js";
import { LambdaUrlSigner } from "../../adapters/aws/lambda-url-signer.js";
import { S3AssetStore } from "../../adapters/aws/s3-asset-store.js";
import { S3ObjectStore } from "../../adapters/aws/s3-object-store.js";
import { S3TextStore } from "../../adapters/aws/s3-text-store.js";
import { SqsMessageVisibility, SqsWebhookQueue } from "../../adapters/aws/sqs-render-queue.js";
import { BrowserPool } from "../../adapters/chromium/browser-pool.js";
import { ChromiumRenderer } from "../../adapters/chromium/chromium-renderer.js";
import type { EgressGuardOptions } from "../../adapters/chromium/egress-guard.js";
import { fontPackDir } from "../../adapters/chromium/fonts.js";
import { PdfLibFinisher } from "../../adapters/pdf/pdf-lib-finisher.js";
import { PAGE_SECRETS_CONTEXT_KEY } from "../../core/constants.js";
import type { Metrics, Renderer } from "../../core/ports.js";
import { RENDERER } from "../../core/renderer-identity.js";
import { TemplateLoader } from "../../core/templates.js";
import type { ConfigOf } from "../function-definition.js";
import { adapterWrapper, type ClientsOf, type FunctionRuntime } from "../wiring.js";
import type { renderWorkerFunction } from "./function.js";
import { makeHandler } from "./handler.js";

export const renderWorkerClients = {
  dynamodb: DynamoDBClient,
  s3: S3Client,
  sqs: SQSClient,
  lambda: LambdaClient,
  kms: KMSClient,
} as const;

export type RenderWorkerConfig = ConfigOf<typeof renderWorkerFunction>;

export interface RenderWorkerRuntime extends FunctionRuntime {
  readonly metrics: Metrics;
  /** Warm browsers, kept across invocations (see `renderWorkerBrowsers`). */
  readonly browsers: BrowserPool;
  /** @default - Chromium from `browsers` */
  readonly renderer?: Renderer;
}

/** The worker's browser pool: outlives invocations, so the composition root keeps it. */
export function renderWorkerBrowsers(
  config: RenderWorkerConfig,
  egress: Partial<Pick<EgressGuardOptions, "resolve" | "connect" | "localHosts">> = {},
): BrowserPool {
  return new BrowserPool({
    maxRendersPerBrowser: config.rendersPerBrowser,
    // Signed assets come from the CDN; every other host must be on the tenant's allowlist.
    egress: { allowedOrigins: [config.cdnBaseUrl], ...egress },
  });
}

export function wireRenderWorker(
  clients: ClientsOf<typeof renderWorkerClients>,
  config: RenderWorkerConfig,
  runtime: RenderWorkerRuntime,
) {
  const adapt = adapterWrapper(runtime);
  const { dynamodb, s3, sqs } = clients;
  const assetStore = adapt(new S3AssetStore(s3, config.assetsBucket), "s3.assets");
  return makeHandler({
    jobs: adapt(new DynamoDbJobStore(dynamodb, config.jobsTable), "dynamodb.jobs"),
    // Template versions are immutable: the loader keeps the ones it has read.
    templates: new TemplateLoader({
      versions: adapt(new DynamoDbTemplateStore(dynamodb, config.jobsTable), "dynamodb.templates"),
      sources: adapt(new S3TextStore(s3, config.templatesBucket, "text/html; charset=utf-8"), "s3.templates"),
    }),
    // Asset URLs are minted by the signer when the job renders, never earlier.
    assets: {
      assets: assetStore,
      signer: adapt(new LambdaUrlSigner(clients.lambda, config.signerFunctionName), "lambda.signer"),
      ttlSeconds: config.assetUrlTtlSeconds,
    },
    renderer: runtime.renderer ?? new ChromiumRenderer({ pool: runtime.browsers }),
    finisher: new PdfLibFinisher({ fontDir: fontPackDir }),
    assetReader: assetStore,
    rendererIdentity: RENDERER,
    renderCache: {
      entries: adapt(new DynamoDbRenderCache(dynamodb, config.jobsTable), "dynamodb.renderCache"),
      jobRetentionDays: config.jobRetentionDays,
    },
    settings: adapt(new DynamoDbTenantSettingsStore(dynamodb, config.jobsTable), "dynamodb.settings"),
    // A URL job's headers and cookies: decrypted for its render only, never kept in memory after it.
    pageSecrets: adapt(
      new KmsSecretCipher(clients.kms, config.pageSecretsKey, {
        contextKey: PAGE_SECRETS_CONTEXT_KEY,
        cacheEntries: 0,
      }),
      "kms.pageSecrets",
    ),
    outputs: adapt(new S3ObjectStore(s3, config.outputsBucket), "s3.outputs"),
    payloads: adapt(new S3TextStore(s3, config.payloadsBucket, "application/json"), "s3.payloads"),
    webhooks: adapt(new SqsWebhookQueue(sqs, config.webhookQueueUrl), "sqs.webhooks"),
    visibility: adapt(new SqsMessageVisibility(sqs), "sqs.visibility"),
    holdSeconds: config.visibilityHoldSeconds,
    retry: { baseSeconds: config.retryBaseSeconds, maxSeconds: config.retryMaxSeconds },
    clock: runtime.clock,
    maxReceiveCount: config.maxReceiveCount,
    // Lambda grants vCPUs in proportion to memory; one page per vCPU keeps Chromium busy without thrashing.
    concurrency: config.renderConcurrency ?? availableParallelism(),
    logger: runtime.logger,
    metrics: runtime.metrics,
  });
}
