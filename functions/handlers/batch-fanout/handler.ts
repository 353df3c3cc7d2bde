import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { type CheckBatchDeps, checkBatch, type FanOutDeps, fanOutChunk } from "../../core/batches.js";
import { BatchMessageSchema } from "../../core/messages.js";
import type { Logger } from "../../core/ports.js";
import { parseMessage, settleRecords } from "../sqs-records.js";

export interface BatchFanOutDeps extends FanOutDeps, CheckBatchDeps {
  readonly logger: Logger;
}

/**
 * Batch queue → for a chunk, create its render jobs and queue them; for a check, see whether the batch
 * is complete and write its manifest and zip. A record that fails is reported for redelivery (and
 * dead-lettered after BATCH_QUEUE.maxReceiveCount receives); both kinds are safe to repeat.
 */
export function makeHandler(deps: BatchFanOutDeps) {
  const { logger } = deps;

  return async function batchFanOutHandler(event: SQSEvent): Promise<SQSBatchResponse> {
    // A batch's shared request is read once per invocation, however many of its chunks arrive.
    const requests = new Map();
    return settleRecords(event.Records, 2, async (record) => {
      const message = parseMessage(BatchMessageSchema, record);
      if (!message) {
        logger.error("malformed batch message", { messageId: record.messageId });
        return false;
      }
      const fields = { tenant: message.tenant, batchId: message.batchId };
      try {
        if (message.kind === "chunk") {
          const { created, existing } = await fanOutChunk(deps, message, requests);
          logger.info("batch chunk queued", { ...fields, chunk: message.chunk, created, existing });
        } else {
          const outcome = await checkBatch(deps, message);
          if (outcome === "missing") logger.warn("batch check for a batch that does not exist", fields);
        }
        return true;
      } catch (err) {
        logger.error("batch message failed", {
          ...fields,
          kind: message.kind,
          error: (err as Error).message,
        });
        return false;
      }
    });
  };
}
