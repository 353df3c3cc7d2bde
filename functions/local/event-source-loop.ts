import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "../core/ports.js";
import { LOCAL_REGION } from "./aws-clients.js";

/** What the loop invokes: a handler, and (for simulated environments) how it can die. */
export interface LocalFunctionInstance {
  readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
  /** Resolves when the environment dies mid-invocation (a simulated crash). */
  readonly died?: Promise<Error>;
  /** Called when the loop gives the environment up (timeout); it must run no more code. */
  kill?(reason: Error): void;
}

export interface EventSourceLoopOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  /**
   * A fresh execution environment: one per poller at start, and a new one after an environment died
   * or timed out, as Lambda does.
   */
  readonly instance: () => LocalFunctionInstance;
  /** Records per invocation (Lambda's BatchSize). */
  readonly batchSize: number;
  /** Concurrent pollers, like the mapping's maximum concurrency. */
  readonly concurrency: number;
  /**
   * Lambda's function timeout: an invocation still running then is abandoned (its environment
   * killed) and its messages come back after their visibility timeout.
   * @default 120000
   */
  readonly functionTimeoutMs?: number;
  readonly logger: Logger;
}

export interface EventSourceLoop {
  /** Stops polling and waits for the batches in hand to finish. */
  stop(): Promise<void>;
}

/**
 * Plays Lambda's SQS event source mapping: long-polls the queue, hands batches to the worker as an
 * SQSEvent, deletes what succeeded and leaves each `batchItemFailures` record (or the whole batch if
 * the handler throws, dies or times out) to reappear when its visibility timeout ends — which the
 * handler may have changed meanwhile (heartbeat, retry backoff) — until the queue's redrive policy
 * moves it to the dead-letter queue. Like Lambda, it never changes a message's visibility itself.
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

type Invocation =
  | { readonly kind: "returned"; readonly response: SQSBatchResponse | undefined }
  | { readonly kind: "threw" | "died" | "timed out"; readonly error: Error };

async function poll(options: EventSourceLoopOptions, signal: AbortSignal): Promise<void> {
  const { sqs, queueUrl, logger } = options;
  const timeoutMs = options.functionTimeoutMs ?? 120_000;
  let instance = options.instance();
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

    const invocation = await invoke(
      instance,
      { Records: messages.map((m) => toRecord(m, options.queueArn)) },
      timeoutMs,
    );
    if (invocation.kind !== "returned") {
      logger.error(`event source: the function ${invocation.kind}; the whole batch will be retried`, {
        error: invocation.error.message,
      });
      if (invocation.kind !== "threw") {
        instance.kill?.(invocation.error);
        instance = options.instance();
      }
      continue;
    }
    const failed = new Set((invocation.response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    const done = messages.filter((m) => m.MessageId && !failed.has(m.MessageId));
    if (done.length > 0) {
      try {
        const result = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        for (const f of result.Failed ?? [])
          logger.warn("event source: delete failed", { code: f.Code, message: f.Message });
      } catch (err) {
        // Undeleted messages come back and find their jobs terminal; nothing is lost.
        logger.warn("event source: delete failed", { error: (err as Error).message });
      }
    }
  }
}

async function invoke(
  instance: LocalFunctionInstance,
  event: SQSEvent,
  timeoutMs: number,
): Promise<Invocation> {
  let timer: NodeJS.Timeout | undefined;
  const outcomes: Array<Promise<Invocation>> = [
    instance.handler(event).then(
      (response): Invocation => ({ kind: "returned", response }),
      (error: unknown): Invocation => ({ kind: "threw", error: asError(error) }),
    ),
    new Promise<Invocation>((resolve) => {
      timer = setTimeout(
        () => resolve({ kind: "timed out", error: new Error(`Task timed out after ${timeoutMs} ms`) }),
        timeoutMs,
      );
    }),
  ];
  let stopWatching = () => {};
  const died = instance.died;
  if (died) {
    outcomes.push(
      new Promise<Invocation>((resolve) => {
        stopWatching = onDeath(died, (error) => resolve({ kind: "died", error }));
      }),
    );
  }
  try {
    return await Promise.race(outcomes);
  } finally {
    clearTimeout(timer);
    stopWatching();
  }
}

const deathListeners = new WeakMap<Promise<Error>, Set<(error: Error) => void>>();

/**
 * Calls `listener` if the environment dies, until the returned function is called. One reaction per
 * environment rather than one per invocation: each reaction on a promise that never settles would
 * keep its invocation's context (event, timer) alive for as long as the environment lives.
 */
function onDeath(died: Promise<Error>, listener: (error: Error) => void): () => void {
  let listeners = deathListeners.get(died);
  if (!listeners) {
    const all = new Set<(error: Error) => void>();
    deathListeners.set(died, all);
    void died.then((error) => {
      for (const l of all) l(error);
    });
    listeners = all;
  }
  listeners.add(listener);
  const added = listeners;
  return () => added.delete(listener);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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
