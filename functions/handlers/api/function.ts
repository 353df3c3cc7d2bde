/** The api function, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { ASSETS } from "../../core/assets.js";
import {
  BATCH_JOBS_INDEX,
  ENV,
  MAX_SECRET_OVERLAP_SECONDS,
  PAGE_SECRETS_CONTEXT_KEY,
  PAYLOADS,
  WEBHOOK_SECRET_CONTEXT_KEY,
} from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { RENDER_WAIT } from "../../core/render-wait.js";
import { TEMPLATES } from "../../core/templates.js";
import { defineFunction, setting } from "../function-definition.js";
import { INDEX_PARTITIONS, PARTITIONS as P } from "../permissions.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

export const apiFunction = defineFunction({
  name: SERVICES.api,
  description: "Kiln: render API (renders, templates, assets, batches, settings)",
  entry: "functions/handlers/api/index.ts",
  memorySize: 512,
  // A request may wait for its render (Prefer: wait) up to the cap, and still submit and sign around it.
  timeoutSeconds: RENDER_WAIT.maxSeconds + RENDER_WAIT.marginSeconds,
  permissions: {
    jobsTable: {
      service: "dynamodb",
      grants: [
        {
          actions: ["dynamodb:GetItem"],
          partitionKeys: [
            P.apiKey,
            P.job,
            P.batch,
            P.idempotency,
            P.settings,
            P.webhookSecret,
            P.templateVersions,
            // One render-cache lookup per cacheable submission.
            P.renderCache,
          ],
        },
        {
          actions: ["dynamodb:PutItem"],
          partitionKeys: [
            P.job,
            P.batch,
            P.idempotency,
            P.settings,
            P.webhookSecret,
            P.templateVersions,
            P.templateIndex,
          ],
        },
        // A batch's claim on its completion check; a plain-text webhook secret encrypted in place.
        { actions: ["dynamodb:UpdateItem"], partitionKeys: [P.batch, P.webhookSecret] },
        { actions: ["dynamodb:Query"], partitionKeys: [P.templateVersions, P.templateIndex] },
        {
          actions: ["dynamodb:Query"],
          index: BATCH_JOBS_INDEX.indexName,
          partitionKeys: [INDEX_PARTITIONS[BATCH_JOBS_INDEX.indexName]],
        },
      ],
    },
    renderQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
    // The webhook of a job served from the render cache, queued like the worker's.
    webhookQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
    batchQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
    // Output URLs for status reads.
    signerFunctionName: { service: "lambda", actions: ["lambda:InvokeFunction"] },
    payloadsBucket: {
      service: "s3",
      grants: [{ actions: ["s3:PutObject"], objectKeys: [`${PAYLOADS.keyPrefix}*`] }],
    },
    templatesBucket: {
      service: "s3",
      grants: [{ actions: ["s3:GetObject", "s3:PutObject"], objectKeys: [`${TEMPLATES.sourceKeyPrefix}*`] }],
    },
    // Tenants' webhook secrets are created, returned and rotated here, each under its tenant's context.
    webhookSecretsKey: {
      service: "kms",
      actions: ["kms:Encrypt", "kms:Decrypt"],
      encryptionContextKeys: [WEBHOOK_SECRET_CONTEXT_KEY],
    },
    // A URL job's headers and cookies are encrypted for the worker before the request is stored.
    pageSecretsKey: {
      service: "kms",
      actions: ["kms:Encrypt"],
      encryptionContextKeys: [PAGE_SECRETS_CONTEXT_KEY],
    },
    // Uploads, asset checks, and a batch's records from a JSONL asset. Upload URLs (POST
    // /v1/asset-uploads) are presigned with this role's credentials: they can do what its PutObject can.
    assetsBucket: {
      service: "s3",
      grants: [{ actions: ["s3:GetObject", "s3:PutObject"], objectKeys: [`${ASSETS.keyPrefix}*`] }],
    },
  },
  settings: {
    jobsTable: shared.jobsTable,
    renderQueueUrl: shared.renderQueueUrl,
    webhookQueueUrl: shared.webhookQueueUrl,
    signerFunctionName: shared.signerFunctionName,
    payloadsBucket: shared.payloadsBucket,
    templatesBucket: shared.templatesBucket,
    assetsBucket: shared.assetsBucket,
    // Without it the batch routes answer 404.
    batchQueueUrl: { ...shared.batchQueueUrl, schema: shared.batchQueueUrl.schema.optional() },
    callbackSchemes: shared.callbackSchemes,
    callbackHosts: shared.callbackHosts,
    jobRetentionDays: shared.jobRetentionDays,
    webhookSecretsKey: shared.webhookSecretsKey,
    pageSecretsKey: shared.pageSecretsKey,
    webhookSecretOverlapSeconds: setting(
      ENV.webhookSecretOverlapSeconds,
      z.coerce
        .number()
        .int()
        .min(0)
        .max(MAX_SECRET_OVERLAP_SECONDS)
        .default(24 * 3600),
      `seconds a rotated-out webhook secret still signs deliveries beside the new one (0–${MAX_SECRET_OVERLAP_SECONDS})`,
    ),
  },
});
