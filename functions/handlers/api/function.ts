/** The api function, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { ENV, MAX_SECRET_OVERLAP_SECONDS } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { defineFunction, setting } from "../function-definition.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

export const apiFunction = defineFunction({
  name: SERVICES.api,
  description: "Kiln: render API (renders, templates, assets, batches, settings)",
  entry: "functions/handlers/api/index.ts",
  memorySize: 512,
  timeoutSeconds: 10,
  settings: {
    jobsTable: shared.jobsTable,
    renderQueueUrl: shared.renderQueueUrl,
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
