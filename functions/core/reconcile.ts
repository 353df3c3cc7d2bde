/**
 * The reconciler: no job stays unfinished once no delivery of its message can come. The render queue
 * settles every job whose message it dead-letters (the final delivery, see render-job.ts); what it
 * cannot settle is a job whose message is gone without that delivery having ended it:
 *
 * - the worker of the final delivery died between marking the job (`finalDeliveryAt`) and failing it,
 *   or the lease holder that the final delivery left to finish the job died;
 * - the message itself is gone: dead-lettered before the job record existed (the API sends it first),
 *   purged, redriven elsewhere, or older than the queue's retention.
 *
 * A run finds non-terminal jobs past a deadline derived from the queue's settings and either re-enqueues
 * one (a queued job never started nor re-enqueued: its message may simply be lost) or fails it with
 * `stuck`. Every write is conditional on the record as read, so a run never does both to one job,
 * never acts twice, and never touches a job an attempt is rendering.
 *
 * The deadline bounds the queue's own delays, not a backlog: behind a spike a job's message can wait
 * for a worker far longer. So while messages wait in the render queue, a job is not declared lost (its
 * message may be one of them); it is once the backlog has drained and still no delivery came.
 */
import { isTerminal, type Job, type JobFailure, leaseIsLive } from "./job.js";
import type {
  Clock,
  JobStore,
  Logger,
  Metrics,
  RenderQueue,
  RenderQueueBacklog,
  WebhookQueue,
} from "./ports.js";
import { FAILURE_CODES } from "./render-job.js";

export interface ReconcileSettings {
  /**
   * How long after its last state change a non-terminal job can still get a delivery of its message:
   * every receive the queue allows, each after the longest hold and the longest retry backoff.
   */
  readonly stuckAfterMs: number;
  /**
   * How long after its final delivery a job may stay unfinished: that delivery's invocation (or the
   * lease holder it left to end the job) is over by then, at the longest the worker's timeout.
   */
  readonly finalDeliveryGraceMs: number;
}

export interface ReconcileDeps {
  readonly jobs: JobStore;
  readonly queue: RenderQueue & RenderQueueBacklog;
  readonly webhooks: WebhookQueue;
  readonly clock: Clock;
  readonly settings: ReconcileSettings;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export type Verdict =
  | { readonly action: "requeue" }
  | { readonly action: "fail"; readonly failure: JobFailure }
  /** Past its deadline, but messages wait in the queue: its own may be one of them. */
  | { readonly action: "wait" }
  | undefined;

/**
 * What the reconciler does with `job` at `now`: nothing, re-enqueue it, fail it, or wait for the
 * queue's backlog (`queueWaiting`: messages waiting for a worker) to drain. Pure.
 */
export function verdictFor(job: Job, now: Date, settings: ReconcileSettings, queueWaiting = 0): Verdict {
  if (isTerminal(job.status) || leaseIsLive(job, now.getTime())) return undefined;
  const nowMs = now.getTime();
  if (job.finalDeliveryAt && nowMs - Date.parse(job.finalDeliveryAt) >= settings.finalDeliveryGraceMs) {
    return {
      action: "fail",
      failure: {
        code: FAILURE_CODES.stuck,
        message: `The job's message had its final delivery at ${job.finalDeliveryAt} and no attempt ended the job (its worker stopped).${lastErrorOf(job)}`,
      },
    };
  }
  const idleMs = nowMs - Date.parse(job.updatedAt);
  if (idleMs < settings.stuckAfterMs) return undefined;
  if (job.status === "queued" && job.attempts === 0 && !job.requeuedAt) return { action: "requeue" };
  if (queueWaiting > 0) return { action: "wait" };
  const seconds = Math.round(settings.stuckAfterMs / 1000);
  return {
    action: "fail",
    failure: {
      code: FAILURE_CODES.stuck,
      message: job.requeuedAt
        ? `The job was re-enqueued at ${job.requeuedAt} and still no delivery came in ${seconds} seconds: its message is lost.`
        : `No delivery of the job's message came in ${seconds} seconds since ${job.updatedAt} (${job.status}, ${job.attempts} attempts): its message is lost.${lastErrorOf(job)}`,
    },
  };
}

function lastErrorOf(job: Job): string {
  return job.lastError ? ` The last error was ${job.lastError.code}: ${job.lastError.message}` : "";
}

export interface ReconcileSummary {
  /** Unfinished jobs past a cutoff that the run looked at. */
  readonly examined: number;
  readonly requeued: number;
  readonly failed: number;
  /** Past the deadline, left for a later run because messages waited in the queue. */
  readonly waiting: number;
  /** The render queue's waiting messages as the run began. */
  readonly queueWaiting: number;
}

/** One run: every candidate past its deadline, re-enqueued or failed at most once. */
export async function reconcile(deps: ReconcileDeps): Promise<ReconcileSummary> {
  const { jobs, clock, settings, logger } = deps;
  const started = clock.now();
  const cutoffs = {
    updatedBefore: new Date(started.getTime() - settings.stuckAfterMs),
    finalDeliveryBefore: new Date(started.getTime() - settings.finalDeliveryGraceMs),
  };
  // Read once per run: a job is declared lost only when no message waited as the run began.
  const queueWaiting = await deps.queue.waitingMessages();
  let examined = 0;
  let requeued = 0;
  let failed = 0;
  let waiting = 0;
  for await (const job of jobs.findUnfinished(cutoffs)) {
    examined += 1;
    const now = clock.now();
    const verdict = verdictFor(job, now, settings, queueWaiting);
    if (!verdict) continue;
    if (verdict.action === "wait") {
      waiting += 1;
      continue;
    }
    const scope = {
      tenant: job.tenant,
      jobId: job.id,
      ...(job.correlationId ? { correlationId: job.correlationId } : {}),
    };
    try {
      if (verdict.action === "requeue") {
        const marked = await jobs.markRequeued(job.tenant, job.id, job.updatedAt, now);
        if (!marked.applied) continue;
        await deps.queue.enqueue({
          tenant: job.tenant,
          jobId: job.id,
          ...(job.correlationId ? { correlationId: job.correlationId } : {}),
        });
        requeued += 1;
        logger.warn("reconciler re-enqueued a job whose message was lost", {
          ...scope,
          queuedSince: job.updatedAt,
        });
        continue;
      }
      const written = await jobs.markFailed(
        job.tenant,
        job.id,
        verdict.failure,
        now,
        { leaseExpiredAtMs: now.getTime(), unchangedSince: job.updatedAt },
        job.callbackUrl !== undefined,
      );
      if (!written.applied) continue;
      failed += 1;
      logger.warn("reconciler failed a stuck job", { ...scope, code: verdict.failure.code });
      if (written.job?.callbackUrl) {
        await deps.webhooks.enqueue({
          tenant: job.tenant,
          jobId: job.id,
          attempt: 1,
          ...(job.correlationId ? { correlationId: job.correlationId } : {}),
        });
      }
    } catch (err) {
      // The next run sees the job again (a failed write changed nothing; a lost enqueue after a mark
      // leaves a job that the next deadline fails).
      logger.error("reconciler could not settle a job", { ...scope, error: (err as Error).message });
    }
  }
  deps.metrics.jobsReconciled({ action: "requeued", count: requeued });
  deps.metrics.jobsReconciled({ action: "failed", count: failed });
  const summary: ReconcileSummary = { examined, requeued, failed, waiting, queueWaiting };
  logger.info("reconciler run", { ...summary, durationMs: clock.now().getTime() - started.getTime() });
  return summary;
}
