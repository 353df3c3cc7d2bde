/** The batch fan-out function, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { BATCHES } from "../../core/batches.js";
import { BATCH_JOBS_INDEX, BATCH_QUEUE, ENV, OUTPUTS, PAYLOADS } from "../../core/constants.js";
import { BatchMessageSchema } from "../../core/messages.js";
import { SERVICES } from "../../core/observability.js";
import { defineFunction, SHARED_CHUNKS, setting } from "../function-definition.js";
import { INDEX_PARTITIONS, PARTITIONS as P } from "../permissions.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

export const batchFanOutFunction = defineFunction({
  name: SERVICES.batchFanOut,
  description: "Kiln: fans batches out into render jobs; writes batch manifests, zips and merged PDFs",
  entry: "functions/handlers/batch-fanout/index.ts",
  chunks: [SHARED_CHUNKS.pdfLibrary],
  message: BatchMessageSchema,
  // It also writes a batch's zip and merged PDF.
  memorySize: 1024,
  timeoutSeconds: BATCH_QUEUE.functionTimeoutSeconds,
  eventSource: { batchSize: 5, maxConcurrency: 2 },
  permissions: {
    jobsTable: {
      service: "dynamodb",
      grants: [
        { actions: ["dynamodb:GetItem"], partitionKeys: [P.job, P.batch] },
        { actions: ["dynamodb:PutItem"], partitionKeys: [P.job] },
        // Claims and artifacts of a batch.
        { actions: ["dynamodb:UpdateItem"], partitionKeys: [P.batch] },
        {
          actions: ["dynamodb:Query"],
          index: BATCH_JOBS_INDEX.indexName,
          partitionKeys: [INDEX_PARTITIONS[BATCH_JOBS_INDEX.indexName]],
        },
      ],
    },
    renderQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
    // Completion checks of a running batch are new delayed messages on its own queue.
    batchQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
    // Batch chunks are read; large job requests are written.
    payloadsBucket: {
      service: "s3",
      grants: [{ actions: ["s3:GetObject", "s3:PutObject"], objectKeys: [`${PAYLOADS.keyPrefix}*`] }],
    },
    // Outputs are read into a batch's zip and merged PDF; manifests, zips and merged PDFs are written beside them.
    outputsBucket: {
      service: "s3",
      grants: [
        {
          actions: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
          objectKeys: [`${OUTPUTS.keyPrefix}*`],
        },
      ],
    },
  },
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
