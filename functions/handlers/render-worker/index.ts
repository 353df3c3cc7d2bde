/**
 * Lambda entry of the render worker. The browser pool lives at module scope so a warm container
 * reuses its Chromium across invocations.
 */
// First, for its side effect: Chromium's extraction overlaps the loading of everything below.
import "../../adapters/chromium/start-extraction.js";
import { availableParallelism } from "node:os";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { DynamoDbTemplateStore } from "../../adapters/aws/dynamodb-template-store.js";
import { DynamoDbTenantSettingsStore } from "../../adapters/aws/dynamodb-tenant-settings-store.js";
import { powertoolsMetrics } from "../../adapters/aws/emf-metrics.js";
import { LambdaUrlSigner } from "../../adapters/aws/lambda-url-signer.js";
import { S3AssetStore } from "../../adapters/aws/s3-asset-store.js";
import { S3ObjectStore } from "../../adapters/aws/s3-object-store.js";
import { S3TextStore } from "../../adapters/aws/s3-text-store.js";
import { SqsMessageVisibility, SqsWebhookQueue } from "../../adapters/aws/sqs-render-queue.js";
import { BrowserPool } from "../../adapters/chromium/browser-pool.js";
import { ChromiumRenderer } from "../../adapters/chromium/chromium-renderer.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { ENV, RENDER_QUEUE, SIGNED_URL_DEFAULT_TTL_SECONDS } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { systemClock } from "../../core/ports.js";
import { TemplateLoader } from "../../core/templates.js";
import { readEnv } from "../env.js";
import { makeHandler } from "./handler.js";

const env = readEnv(
  {
    [ENV.jobsTable]: z.string().min(1),
    [ENV.outputsBucket]: z.string().min(1),
    [ENV.maxReceiveCount]: z.coerce.number().int().min(2).default(RENDER_QUEUE.maxReceiveCount),
    [ENV.rendersPerBrowser]: z.coerce.number().int().min(1).default(500),
    [ENV.payloadsBucket]: z.string().min(1),
    [ENV.webhookQueueUrl]: z.url(),
    [ENV.visibilityHoldSeconds]: z.coerce.number().int().min(3).max(43_200).default(60),
    [ENV.retryBaseSeconds]: z.coerce.number().int().min(1).max(3600).default(5),
    [ENV.templatesBucket]: z.string().min(1),
    [ENV.assetsBucket]: z.string().min(1),
    [ENV.signerFunctionName]: z.string().min(1),
    [ENV.cdnBaseUrl]: z.url({ protocol: /^https?$/ }),
    [ENV.assetUrlTtlSeconds]: z.coerce
      .number()
      .int()
      .min(30)
      .max(3600)
      .default(SIGNED_URL_DEFAULT_TTL_SECONDS),
  },
  {
    component: "render-worker",
    hints: {
      [ENV.jobsTable]: "the name of the jobs table",
      [ENV.outputsBucket]: "the name of the outputs bucket",
      [ENV.maxReceiveCount]:
        "the render queue's maxReceiveCount (a whole number ≥ 2: the last receive settles the job)",
      [ENV.rendersPerBrowser]: "how many renders one Chromium serves before it is recycled (≥ 1)",
      [ENV.payloadsBucket]: "the name of the bucket that keeps large request bodies",
      [ENV.webhookQueueUrl]: "the URL of the webhook queue",
      [ENV.visibilityHoldSeconds]: "seconds a message stays hidden between heartbeats (3–43200)",
      [ENV.retryBaseSeconds]: "seconds before the first retry of a transient failure (1–3600)",
      [ENV.templatesBucket]: "the name of the templates bucket",
      [ENV.assetsBucket]: "the name of the assets bucket",
      [ENV.signerFunctionName]: "the name or ARN of the sign-assets function",
      [ENV.cdnBaseUrl]:
        "the CDN origin signed asset URLs point at, e.g. https://d111111abcdef8.cloudfront.net",
      [ENV.assetUrlTtlSeconds]: "seconds the asset URLs minted for a render stay valid (30–3600)",
    },
  },
);

const pool = new BrowserPool({
  maxRendersPerBrowser: env[ENV.rendersPerBrowser],
  // Signed assets come from the CDN; every other host must be on the tenant's allowlist.
  egress: { allowedOrigins: [env[ENV.cdnBaseUrl]] },
});
// Launch during init, so the first invocation finds a browser and a page waiting.
pool.warm();

const s3 = new S3Client({});
const dynamodb = new DynamoDBClient({});
const sqs = new SQSClient({});

const logger = powertoolsLogger({ serviceName: SERVICES.renderWorker });

const handle = makeHandler({
  jobs: new DynamoDbJobStore(dynamodb, env[ENV.jobsTable]),
  // Template versions are immutable: the loader keeps the ones it has read.
  templates: new TemplateLoader({
    versions: new DynamoDbTemplateStore(dynamodb, env[ENV.jobsTable]),
    sources: new S3TextStore(s3, env[ENV.templatesBucket], "text/html; charset=utf-8"),
  }),
  // Asset URLs are minted by the signer when the job renders, never earlier.
  assets: {
    assets: new S3AssetStore(s3, env[ENV.assetsBucket]),
    signer: new LambdaUrlSigner(new LambdaClient({}), env[ENV.signerFunctionName]),
    ttlSeconds: env[ENV.assetUrlTtlSeconds],
  },
  renderer: new ChromiumRenderer({ pool }),
  settings: new DynamoDbTenantSettingsStore(dynamodb, env[ENV.jobsTable]),
  outputs: new S3ObjectStore(s3, env[ENV.outputsBucket]),
  payloads: new S3TextStore(s3, env[ENV.payloadsBucket], "application/json"),
  webhooks: new SqsWebhookQueue(sqs, env[ENV.webhookQueueUrl]),
  visibility: new SqsMessageVisibility(sqs),
  holdSeconds: env[ENV.visibilityHoldSeconds],
  retry: { baseSeconds: env[ENV.retryBaseSeconds], maxSeconds: 300 },
  clock: systemClock,
  maxReceiveCount: env[ENV.maxReceiveCount],
  // Lambda grants vCPUs in proportion to memory; one page per vCPU keeps Chromium busy without thrashing.
  concurrency: availableParallelism(),
  logger,
  metrics: powertoolsMetrics({ serviceName: SERVICES.renderWorker }),
});

export const handler = withLambdaContext(logger, handle);
