/** The api function, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { SERVICES } from "../../core/observability.js";
import { defineFunction } from "../function-definition.js";
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
  },
});
