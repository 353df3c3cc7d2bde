import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "../core/ports.js";
import { LOCAL_REGION } from "./aws-clients.js";

export interface EventSourceLoopOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
  /** Records per invocation (Lambda's BatchSize). */
  readonly batchSize: number;
  /** Concurrent pollers, like the mapping's maximum concurrency. */
  readonly concurrency: number;
  readonly logger: Logger;
}

export interface EventSourceLoop {
  /** Stops polling and waits for the batches in hand to finish. */
  stop(): Promise<void>;
}

/**
 * Plays Lambda's SQS event source mapping: long-polls the queue, hands batches to the worker as an
 * SQSEvent, deletes what succeeded and leaves each `batchItemFailures` record (or the whole batch if
 * the handler throws) to reappear after the visibility timeout, until the queue's redrive policy moves
 * it to the dead-letter queue.
 */
export function startEventSourceLoop(options: EventSourceLoopOptions): EventSourceLoop {
  const abort = new AbortController();
  const pollers = Array.from({ length: options.concurrency }, () => poll(options, abort.signal));
  return {
    stop: async () => {
      abort.abort();
      await Promise.all(pollers);
    },
  };
}

async function poll(options: EventSourceLoopOptions, signal: AbortSignal): Promise<void> {
  const { sqs, queueUrl, logger } = options;
  while (!signal.aborted) {
    let messages: Message[] = [];
    try {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: options.batchSize,
          WaitTimeSeconds: 5,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
        { abortSignal: signal },
      );
      messages = received.Messages ?? [];
    } catch (err) {
      if (signal.aborted) return;
      logger.warn("event source: receive failed", { error: (err as Error).message });
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (messages.length === 0) continue;

    let failed: Set<string>;
    try {
      const response = await options.handler({ Records: messages.map((m) => toRecord(m, options.queueArn)) });
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      logger.error("event source: handler threw; the whole batch will be retried", {
        error: (err as Error).message,
      });
      continue;
    }
    const done = messages.filter((m) => m.MessageId && !failed.has(m.MessageId));
    if (done.length > 0) {
      const result = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      for (const f of result.Failed ?? [])
        logger.warn("event source: delete failed", { code: f.Code, message: f.Message });
    }
  }
}

function toRecord(message: Message, queueArn: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? "000000000000",
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([k, v]) => [
        k,
        {
          dataType: v.DataType ?? "String",
          ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}
