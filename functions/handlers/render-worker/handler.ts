import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import type { Logger, Metrics } from "../../core/ports.js";
import { type RenderJobDeps, renderJob } from "../../core/render-job.js";

export interface RenderWorkerDeps extends RenderJobDeps {
  readonly maxReceiveCount: number;
  /** Records of one batch rendered at once on the warm browser (about one per vCPU). */
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

const RenderMessageSchema = z.strictObject({ tenant: z.string().min(1), jobId: z.string().min(1) });

/**
 * SQS → render → store → status. Returns a partial batch response: only the records that failed
 * transiently are redelivered; the rest of the batch is deleted.
 */
export function makeHandler(deps: RenderWorkerDeps) {
  const { logger, metrics, clock } = deps;

  async function processRecord(record: SQSRecord): Promise<boolean> {
    const parsed = RenderMessageSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      // Not ours to drop: leave it to reach the dead-letter queue where an operator can see it.
      logger.error("malformed render message", { messageId: record.messageId });
      return false;
    }
    const message = parsed.data;
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    const started = clock.now().getTime();
    const result = await renderJob(deps, message, { receiveCount, maxReceiveCount: deps.maxReceiveCount });
    const fields = { tenant: message.tenant, jobId: message.jobId, receiveCount };
    if (result.outcome === "done") {
      if (result.status === "succeeded") {
        const durationMs = clock.now().getTime() - started;
        metrics.renderSucceeded({ format: result.format, durationMs, bytes: result.bytes });
        logger.info("render succeeded", { ...fields, durationMs, bytes: result.bytes });
      } else if (result.status === "failed") {
        metrics.renderFailed({ code: result.code });
        logger.info("render failed", { ...fields, code: result.code });
      } else {
        logger.info("render skipped: job already terminal", fields);
      }
      return true;
    }
    if (result.outcome === "dead-letter") metrics.renderFailed({ code: "render_failed" });
    logger.warn(result.outcome === "retry" ? "render attempt failed; will retry" : "render failed for good", {
      ...fields,
      error: result.error.message,
    });
    return false;
  }

  async function settle(record: SQSRecord): Promise<SQSBatchItemFailure | undefined> {
    try {
      if (await processRecord(record)) return undefined;
    } catch (err) {
      logger.error("record failed", { messageId: record.messageId, error: (err as Error).message });
    }
    return { itemIdentifier: record.messageId };
  }

  return async function renderWorkerHandler(event: SQSEvent): Promise<SQSBatchResponse> {
    const results = await mapConcurrently(event.Records, deps.concurrency, settle);
    return { batchItemFailures: results.filter((f): f is SQSBatchItemFailure => f !== undefined) };
  };
}

/** Like Promise.all over `items`, with at most `limit` calls of `fn` in flight; results keep input order. */
async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
