/** The reconciler, described once: see function-definition.ts. Its adapters are wired in wire.ts. */
import { z } from "zod";
import { ENV, OPEN_JOBS_INDEX, RENDER_QUEUE } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { defineFunction, setting } from "../function-definition.js";
import { INDEX_PARTITIONS, PARTITIONS as P } from "../permissions.js";
import { renderWorkerFunction } from "../render-worker/function.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

/** What bounds the deliveries a render message can still get. */
export interface RenderQueueBounds {
  /** Receives before the queue dead-letters the message. */
  readonly maxReceiveCount: number;
  /** The longest a received message stays hidden: the queue's visibility timeout. */
  readonly visibilityTimeoutSeconds: number;
  /** The longest backoff the worker sets before a redelivery. */
  readonly retryMaxSeconds: number;
}

/**
 * Seconds after a job's last state change by which every delivery its message could still get has
 * come: each receive the queue allows, each after the longest hold and the longest backoff.
 */
export function stuckAfterSecondsFor(bounds: RenderQueueBounds): number {
  return bounds.maxReceiveCount * (bounds.visibilityTimeoutSeconds + bounds.retryMaxSeconds);
}

const workerRetryMaxSeconds = renderWorkerFunction.settings.retryMaxSeconds.schema.parse(undefined);

/** The deployment's render queue: RENDER_QUEUE and the worker's definition (render-queue.ts derives it so). */
export const DEPLOYED_RENDER_QUEUE_BOUNDS: RenderQueueBounds = {
  maxReceiveCount: RENDER_QUEUE.maxReceiveCount,
  visibilityTimeoutSeconds: RENDER_QUEUE.visibilityTimeoutFactor * renderWorkerFunction.timeoutSeconds,
  retryMaxSeconds: workerRetryMaxSeconds,
};

const seconds = z.coerce
  .number()
  .int()
  .min(1)
  .max(14 * 24 * 3600);

export const reconcilerFunction = defineFunction({
  name: SERVICES.reconciler,
  description: "Kiln: re-enqueues or fails jobs left unfinished past every delivery of their message",
  entry: "functions/handlers/reconciler/index.ts",
  memorySize: 256,
  // One run reads every job idle past the grace (a backlog of thousands takes a while).
  timeoutSeconds: 300,
  permissions: {
    jobsTable: {
      service: "dynamodb",
      grants: [
        // Candidates from the open-jobs index, each read whole and updated by a condition.
        {
          actions: ["dynamodb:Query"],
          index: OPEN_JOBS_INDEX.indexName,
          partitionKeys: [INDEX_PARTITIONS[OPEN_JOBS_INDEX.indexName]],
        },
        { actions: ["dynamodb:GetItem", "dynamodb:UpdateItem"], partitionKeys: [P.job] },
      ],
    },
    // Re-enqueues, and the backlog count that tells a lost message from one waiting behind a spike.
    renderQueueUrl: { service: "sqs", actions: ["sqs:SendMessage", "sqs:GetQueueAttributes"] },
    webhookQueueUrl: { service: "sqs", actions: ["sqs:SendMessage"] },
  },
  settings: {
    jobsTable: shared.jobsTable,
    renderQueueUrl: shared.renderQueueUrl,
    webhookQueueUrl: shared.webhookQueueUrl,
    stuckAfterSeconds: setting(
      ENV.reconcileStuckAfterSeconds,
      seconds.default(stuckAfterSecondsFor(DEPLOYED_RENDER_QUEUE_BOUNDS)),
      "the seconds after its last state change that an unfinished job has had every delivery of its message: maxReceiveCount × (visibility timeout + longest retry backoff)",
    ),
    finalDeliveryGraceSeconds: setting(
      ENV.reconcileFinalDeliveryGraceSeconds,
      seconds.default(renderWorkerFunction.timeoutSeconds),
      "the seconds after its message's final delivery that an unfinished job is stuck: the render worker's timeout",
    ),
  },
});
