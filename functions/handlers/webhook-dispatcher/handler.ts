import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { type DeliverWebhookDeps, deliverWebhook } from "../../core/deliver-webhook.js";
import { WebhookMessageSchema } from "../../core/messages.js";
import type { Logger, Metrics } from "../../core/ports.js";
import { parseMessage, settleRecords } from "../sqs-records.js";

export interface WebhookDispatcherDeps extends DeliverWebhookDeps {
  readonly logger: Logger;
  /** Delivery results; none when absent. */
  readonly metrics?: Metrics;
  /** Deliveries of one batch made at once; each mostly waits on a receiver. */
  readonly concurrency: number;
}

/**
 * Webhook queue → one delivery attempt per record. Retries of a receiver that failed are scheduled as
 * new delayed messages, so a record is reported as failed (and redelivered by SQS) only when Kiln
 * itself could not do its part — a store call or the queue failed.
 */
export function makeHandler(deps: WebhookDispatcherDeps) {
  async function settle(record: SQSRecord): Promise<boolean> {
    const message = parseMessage(WebhookMessageSchema, record);
    if (!message) {
      deps.logger.error("malformed webhook message", { messageId: record.messageId });
      return false;
    }
    // Job id, tenant and correlation id on every line of this delivery.
    const logger = deps.logger.child({
      tenant: message.tenant,
      jobId: message.jobId,
      ...(message.correlationId ? { correlationId: message.correlationId } : {}),
    });
    const fields = { attempt: message.attempt };
    try {
      const result = await deliverWebhook(deps, message);
      if (result.outcome === "delivered" || result.outcome === "scheduled" || result.outcome === "gave-up")
        deps.metrics?.webhookAttempted({ outcome: result.outcome });
      if (result.outcome === "delivered")
        logger.info("webhook delivered", { ...fields, status: result.status });
      else if (result.outcome === "scheduled")
        logger.warn("webhook attempt failed; retry scheduled", {
          ...fields,
          error: result.error,
          delaySeconds: result.delaySeconds,
        });
      else if (result.outcome === "gave-up")
        logger.error("webhook given up", { ...fields, error: result.error });
      else if (result.outcome === "skipped")
        logger.info("webhook skipped", { ...fields, reason: result.reason });
      return true;
    } catch (err) {
      logger.error("webhook record failed", { ...fields, error: (err as Error).message });
      return false;
    }
  }

  return async function webhookDispatcherHandler(event: SQSEvent): Promise<SQSBatchResponse> {
    return settleRecords(event.Records, deps.concurrency, settle);
  };
}
