import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { RenderMessageSchema } from "../../core/messages.js";
import type { Logger, MessageVisibility, Metrics } from "../../core/ports.js";
import { type LeaseSettings, type RenderJobDeps, renderJob } from "../../core/render-job.js";
import { retryDelaySeconds } from "../../core/retry-policy.js";
import { jsonBody, settleRecords } from "../sqs-records.js";

export interface RenderWorkerDeps extends Omit<RenderJobDeps, "lease"> {
  readonly maxReceiveCount: number;
  /** Records of one batch rendered at once on the warm browser (about one per vCPU). */
  readonly concurrency: number;
  readonly visibility: MessageVisibility;
  /**
   * Seconds a received message is kept hidden, renewed while its record is being worked on: the
   * longest a dead worker's message waits before another worker sees it.
   */
  readonly holdSeconds: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * The lease on the job lasts two thirds of the hold and both are renewed every third: if the worker
 * dies, its lease has expired by the time its message reappears, so the next delivery can take over
 * at once instead of bouncing off a lease that is still live.
 */
export function leaseFor(holdSeconds: number): LeaseSettings {
  return { leaseMs: (holdSeconds * 1000 * 2) / 3, renewEveryMs: (holdSeconds * 1000) / 3 };
}

/** The job a record is about, as far as its body says: the scope of every line logged for it. */
function recordScope(record: SQSRecord): Record<string, unknown> {
  const body = jsonBody(record);
  const scope: Record<string, unknown> = { messageId: record.messageId };
  if (body && typeof body === "object") {
    const { tenant, jobId, correlationId } = body as Record<string, unknown>;
    if (typeof tenant === "string") scope.tenant = tenant;
    if (typeof jobId === "string") scope.jobId = jobId;
    if (typeof correlationId === "string") scope.correlationId = correlationId;
  }
  return scope;
}

/** From SQS's SentTimestamp to `nowMs`; undefined when the attribute is missing. */
function queueWaitMs(record: SQSRecord, nowMs: number): number | undefined {
  const sent = Number(record.attributes.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? Math.max(0, nowMs - sent) : undefined;
}

/**
 * SQS → render → store → status. Keeps every record of the batch hidden while it waits or renders
 * (heartbeat via ChangeMessageVisibility), sets the backoff of each record it gives back, and returns
 * a partial batch response: only those records are redelivered; the rest of the batch is deleted.
 */
export function makeHandler(deps: RenderWorkerDeps) {
  const { logger, metrics, clock, visibility } = deps;
  const jobDeps: RenderJobDeps = { ...deps, lease: leaseFor(deps.holdSeconds) };

  async function processRecord(
    record: SQSRecord,
    giveBack: (seconds: number) => Promise<void>,
    logger: Logger,
  ) {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    const parsed = RenderMessageSchema.safeParse(jsonBody(record));
    if (!parsed.success) {
      // Not ours to drop: leave it to reach the dead-letter queue where an operator can see it.
      logger.error("malformed render message", { messageId: record.messageId });
      await giveBack(retryDelaySeconds(deps.retry, receiveCount, deps.random));
      return false;
    }
    const message = parsed.data;
    const started = clock.now().getTime();
    const waitedMs = queueWaitMs(record, started);
    logger.debug("render message received", { receiveCount, queueWaitMs: waitedMs });
    const result = await renderJob(jobDeps, message, { receiveCount, maxReceiveCount: deps.maxReceiveCount });
    const fields = { receiveCount };
    if (result.outcome === "done") {
      if (result.status === "succeeded") {
        const durationMs = clock.now().getTime() - started;
        metrics.renderSucceeded({
          format: result.format,
          durationMs,
          bytes: result.bytes,
          ...(waitedMs !== undefined ? { queueWaitMs: waitedMs } : {}),
        });
        logger.info("render succeeded", {
          ...fields,
          format: result.format,
          durationMs,
          bytes: result.bytes,
          queueWaitMs: waitedMs,
        });
      } else if (result.status === "failed") {
        metrics.renderFailed({ code: result.code });
        logger.info("render failed", { ...fields, code: result.code });
      } else {
        logger.info("render skipped: job already terminal", fields);
      }
      return true;
    }
    if (result.outcome === "retry") {
      logger.warn("render attempt failed; will retry", {
        ...fields,
        error: result.error.message,
        retryAfterSeconds: result.retryAfterSeconds,
      });
      await giveBack(result.retryAfterSeconds);
      return false;
    }
    if (result.code) metrics.renderFailed({ code: result.code });
    logger.warn("render failed for good; the message goes to the dead-letter queue", {
      ...fields,
      error: result.error.message,
      ...(result.code ? { code: result.code } : {}),
    });
    // Visible at once, so that the queue's next receive moves it to the dead-letter queue.
    await giveBack(0);
    return false;
  }

  return async function renderWorkerHandler(event: SQSEvent): Promise<SQSBatchResponse> {
    const holding = new Set(event.Records);
    const heartbeat = startHeartbeat(visibility, holding, deps.holdSeconds, logger);

    const settle = async (record: SQSRecord): Promise<boolean> => {
      // Job id, tenant and correlation id on every line this record produces.
      const logger = deps.logger.child(recordScope(record));
      const giveBack = async (seconds: number) => {
        holding.delete(record);
        // A renewal in flight must not land after this change and hide the message for a whole hold.
        await heartbeat.idle();
        await visibility
          .change(record.eventSourceARN, [record.receiptHandle], seconds)
          .catch((err: Error) =>
            logger.warn("could not set the retry delay", { messageId: record.messageId, error: err.message }),
          );
      };
      try {
        return await processRecord(record, giveBack, logger);
      } catch (err) {
        logger.error("record failed", { messageId: record.messageId, error: (err as Error).message });
        return false;
      } finally {
        holding.delete(record);
      }
    };

    try {
      return await settleRecords(event.Records, deps.concurrency, settle);
    } finally {
      heartbeat.stop();
    }
  };
}

/**
 * Extends the visibility of every record still held, at once and then every third of the hold, so
 * that no record is redelivered while it waits for a lane or renders.
 */
function startHeartbeat(
  visibility: MessageVisibility,
  holding: ReadonlySet<SQSRecord>,
  holdSeconds: number,
  logger: Logger,
) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const beat = () => {
    const records = [...holding];
    const first = records[0];
    if (!first) return Promise.resolve();
    return visibility
      .change(
        first.eventSourceARN,
        records.map((r) => r.receiptHandle),
        holdSeconds,
      )
      .catch((err: Error) => logger.warn("heartbeat failed", { error: err.message }));
  };
  const loop = () => {
    inFlight = beat().then(() => {
      if (!stopped) timer = setTimeout(loop, (holdSeconds * 1000) / 3);
    });
  };
  loop();

  return {
    idle: () => inFlight,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
