/** The render worker, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { ASSETS } from "../../core/assets.js";
import {
  ENV,
  OUTPUTS,
  PAGE_SECRETS_CONTEXT_KEY,
  PAYLOADS,
  RENDER_QUEUE,
  RENDERS_PER_BROWSER,
} from "../../core/constants.js";
import { RenderMessageSchema } from "../../core/messages.js";
import { SERVICES } from "../../core/observability.js";
import { TEMPLATES } from "../../core/templates.js";
import { defineFunction, SHARED_CHUNKS, setting } from "../function-definition.js";
import { EVENT_SOURCE_QUEUE, PARTITIONS as P } from "../permissions.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

const wholeNumber = (min: number, max?: number) => {
  const n = z.coerce.number().int().min(min);
  return max === undefined ? n : n.max(max);
};

export const renderWorkerFunction = defineFunction({
  name: SERVICES.renderWorker,
  description: "Kiln: renders queued jobs with headless Chromium",
  entry: "functions/handlers/render-worker/index.ts",
  chunks: ["functions/handlers/render-worker/main.chunk.mts", SHARED_CHUNKS.pdfLibrary],
  message: RenderMessageSchema,
  // Chromium needs 2048 MB; a cold start launches it, so the timeout leaves room for that.
  memorySize: 2048,
  timeoutSeconds: 60,
  eventSource: { batchSize: 5, maxConcurrency: 10 },
  // Tenants' HTML runs in this function's Chromium: its role reads and updates jobs, reads the
  // templates and settings it renders with, and nothing of webhook secrets or API keys.
  permissions: {
    jobsTable: {
      service: "dynamodb",
      grants: [
        { actions: ["dynamodb:GetItem"], partitionKeys: [P.job, P.settings, P.templateVersions] },
        // The request and the tenant's settings in one read.
        { actions: ["dynamodb:BatchGetItem"], partitionKeys: [P.job, P.settings] },
        { actions: ["dynamodb:UpdateItem"], partitionKeys: [P.job] },
        { actions: ["dynamodb:Query"], partitionKeys: [P.templateVersions] },
        // A new output is offered to later jobs with the same inputs (one conditional put).
        { actions: ["dynamodb:PutItem"], partitionKeys: [P.renderCache] },
      ],
    },
    outputsBucket: {
      service: "s3",
      grants: [{ actions: ["s3:PutObject"], objectKeys: [`${OUTPUTS.keyPrefix}*`] }],
    },
    // PutObject: a large request is rewritten with its PDF passwords redacted once the job has ended.
    payloadsBucket: {
      service: "s3",
      grants: [{ actions: ["s3:GetObject", "s3:PutObject"], objectKeys: [`${PAYLOADS.keyPrefix}*`] }],
    },
    templatesBucket: {
      service: "s3",
      grants: [{ actions: ["s3:GetObject"], objectKeys: [`${TEMPLATES.sourceKeyPrefix}*`] }],
    },
    // HeadObject: whether a job's assets exist, before the signer mints their URLs; GetObject: the
    // images, PDFs and files that PDF finishing stamps or embeds.
    assetsBucket: {
      service: "s3",
      grants: [{ actions: ["s3:GetObject"], objectKeys: [`${ASSETS.keyPrefix}*`] }],
    },
    webhookQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
    // The heartbeat and retry backoff change the visibility of the records it was handed.
    [EVENT_SOURCE_QUEUE]: { service: "sqs", actions: ["sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"] },
    signerFunctionName: { service: "lambda", actions: ["lambda:InvokeFunction"] },
    // A URL job's headers and cookies, encrypted by the api for this function only.
    pageSecretsKey: {
      service: "kms",
      actions: ["kms:Decrypt"],
      encryptionContextKeys: [PAGE_SECRETS_CONTEXT_KEY],
    },
  },
  settings: {
    jobsTable: shared.jobsTable,
    outputsBucket: shared.outputsBucket,
    payloadsBucket: shared.payloadsBucket,
    templatesBucket: shared.templatesBucket,
    assetsBucket: shared.assetsBucket,
    webhookQueueUrl: shared.webhookQueueUrl,
    signerFunctionName: shared.signerFunctionName,
    // The one origin templates reach without the tenant's allowlist: where signed assets are served.
    cdnBaseUrl: shared.cdnBaseUrl,
    pageSecretsKey: shared.pageSecretsKey,
    maxReceiveCount: setting(
      ENV.maxReceiveCount,
      wholeNumber(2).default(RENDER_QUEUE.maxReceiveCount),
      "the render queue's maxReceiveCount (a whole number ≥ 2: the last receive settles the job)",
    ),
    rendersPerBrowser: setting(
      ENV.rendersPerBrowser,
      wholeNumber(1).default(RENDERS_PER_BROWSER),
      "how many renders one Chromium serves before it is recycled (≥ 1)",
    ),
    renderConcurrency: setting(
      ENV.renderConcurrency,
      wholeNumber(1, 64).optional(),
      "how many records of a batch render at once (1–64), or leave it unset for one per vCPU",
    ),
    visibilityHoldSeconds: setting(
      ENV.visibilityHoldSeconds,
      wholeNumber(1, 43_200).default(60),
      "seconds a message stays hidden between heartbeats (1–43200)",
    ),
    retryBaseSeconds: setting(
      ENV.retryBaseSeconds,
      wholeNumber(1, 3600).default(5),
      "seconds before the first retry of a transient failure (1–3600)",
    ),
    retryMaxSeconds: setting(
      ENV.retryMaxSeconds,
      wholeNumber(1, 43_200).default(300),
      "the longest wait in seconds before a retry (1–43200)",
    ),
    assetUrlTtlSeconds: shared.assetUrlTtlSeconds,
    // A render-cache entry lasts this long after its output's PUT: outputs are kept at least as long.
    jobRetentionDays: shared.jobRetentionDays,
  },
});
