/** The webhook dispatcher, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { ENV, WEBHOOK_QUEUE, WEBHOOK_SECRET_CONTEXT_KEY } from "../../core/constants.js";
import { WebhookMessageSchema } from "../../core/messages.js";
import { SERVICES } from "../../core/observability.js";
import { defineFunction, setting } from "../function-definition.js";
import { PARTITIONS as P } from "../permissions.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

export const webhookDispatcherFunction = defineFunction({
  name: SERVICES.webhookDispatcher,
  description: "Kiln: delivers signed job-completion webhooks, retrying for 24 hours",
  entry: "functions/handlers/webhook-dispatcher/index.ts",
  message: WebhookMessageSchema,
  memorySize: 256,
  // The queue's visibility timeout is six times the function's, as Lambda asks.
  timeoutSeconds: WEBHOOK_QUEUE.visibilityTimeoutSeconds / 6,
  eventSource: { batchSize: 10, maxConcurrency: 5 },
  permissions: {
    jobsTable: {
      service: "dynamodb",
      grants: [
        { actions: ["dynamodb:GetItem"], partitionKeys: [P.job, P.webhookSecret] },
        { actions: ["dynamodb:UpdateItem"], partitionKeys: [P.job, P.webhookSecret] },
        // A tenant's signing secret is created on its first delivery (a plain one encrypted in place).
        { actions: ["dynamodb:PutItem"], partitionKeys: [P.webhookSecret] },
      ],
    },
    webhookSecretsKey: {
      service: "kms",
      actions: ["kms:Encrypt", "kms:Decrypt"],
      encryptionContextKeys: [WEBHOOK_SECRET_CONTEXT_KEY],
    },
    // Retries are new delayed messages on its own queue.
    webhookQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
  },
  settings: {
    jobsTable: shared.jobsTable,
    webhookQueueUrl: shared.webhookQueueUrl,
    callbackSchemes: shared.callbackSchemes,
    callbackHosts: shared.callbackHosts,
    webhookSecretsKey: shared.webhookSecretsKey,
    timeoutMs: setting(
      ENV.webhookTimeoutMs,
      z.coerce.number().int().min(100).max(15_000).default(10_000),
      "milliseconds to wait for a receiver's answer (100–15000)",
    ),
    concurrency: setting(
      ENV.webhookConcurrency,
      z.coerce.number().int().min(1).max(100).default(10),
      "deliveries of one batch made at once (1–100)",
    ),
  },
});
