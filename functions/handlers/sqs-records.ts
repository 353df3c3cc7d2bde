import type { SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from "aws-lambda";
import type { z } from "zod";
import { mapConcurrently } from "../core/concurrency.js";

/** A record's body parsed as JSON; undefined when it is not JSON, so a schema reports it as malformed. */
export function jsonBody(record: SQSRecord): unknown {
  try {
    return JSON.parse(record.body);
  } catch {
    return undefined;
  }
}

/** The record's message if its body matches `schema`; undefined for a malformed one. */
export function parseMessage<T>(schema: z.ZodType<T>, record: SQSRecord): T | undefined {
  const parsed = schema.safeParse(jsonBody(record));
  return parsed.success ? parsed.data : undefined;
}

/**
 * Settles every record of an SQS batch, `concurrency` at a time, and reports the ones `settle` says
 * were not done (false) as batch item failures, so that SQS redelivers only those.
 */
export async function settleRecords(
  records: readonly SQSRecord[],
  concurrency: number,
  settle: (record: SQSRecord) => Promise<boolean>,
): Promise<SQSBatchResponse> {
  const done = await mapConcurrently(records, concurrency, settle);
  const batchItemFailures: SQSBatchItemFailure[] = records
    .filter((_, i) => !done[i])
    .map((record) => ({ itemIdentifier: record.messageId }));
  return { batchItemFailures };
}
