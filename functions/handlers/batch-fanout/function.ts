/** The batch fan-out function, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { BATCHES } from "../../core/batches.js";
import { BATCH_QUEUE, ENV } from "../../core/constants.js";
import { BatchMessageSchema } from "../../core/messages.js";
import { SERVICES } from "../../core/observability.js";
import { defineFunction, setting } from "../function-definition.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

export const batchFanOutFunction = defineFunction({
  name: SERVICES.batchFanOut,
  description: "Kiln: fans batches out into render jobs; writes batch manifests and zips",
  entry: "functions/handlers/batch-fanout/index.ts",
  message: BatchMessageSchema,
  // It also writes a batch's zip.
  memorySize: 1024,
  timeoutSeconds: BATCH_QUEUE.functionTimeoutSeconds,
  eventSource: { batchSize: 5, maxConcurrency: 2 },
  settings: {
    jobsTable: shared.jobsTable,
    renderQueueUrl: shared.renderQueueUrl,
    batchQueueUrl: shared.batchQueueUrl,
    payloadsBucket: shared.payloadsBucket,
    outputsBucket: shared.outputsBucket,
    jobRetentionDays: shared.jobRetentionDays,
    checkEverySeconds: setting(
      ENV.batchCheckEverySeconds,
      z.coerce.number().int().min(1).max(900).default(BATCHES.checkEverySeconds),
      "seconds between completion checks of a running batch (1–900)",
    ),
  },
});
