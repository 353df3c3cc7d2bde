/** The webhook dispatcher, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { ENV, WEBHOOK_QUEUE } from "../../core/constants.js";
import { WebhookMessageSchema } from "../../core/messages.js";
import { SERVICES } from "../../core/observability.js";
import { defineFunction, setting } from "../function-definition.js";
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
