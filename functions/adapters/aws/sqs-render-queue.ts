import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { BatchMessage, BatchQueue, RenderMessageBatches } from "../../core/batches.js";
import { WEBHOOK_QUEUE } from "../../core/constants.js";
import type {
  MessageVisibility,
  RenderMessage,
  RenderQueue,
  RenderQueueBacklog,
  WebhookMessage,
  WebhookQueue,
} from "../../core/ports.js";

export class SqsRenderQueue implements RenderQueue, RenderMessageBatches, RenderQueueBacklog {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(message: RenderMessage): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }),
    );
  }

  async waitingMessages(): Promise<number> {
    const { Attributes } = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }

  async enqueueAll(messages: readonly RenderMessage[]): Promise<void> {
    await sendInBatches(this.client, this.queueUrl, messages);
  }
}

/** Fan-out chunks and completion checks of batches. */
export class SqsBatchQueue implements BatchQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly BatchMessage[], delaySeconds = 0): Promise<void> {
    await sendInBatches(this.client, this.queueUrl, messages, delaySeconds);
  }
}

/** SendMessageBatch, ten entries per call; an entry SQS refuses is sent again once, then fails the call. */
async function sendInBatches(
  client: SQSClient,
  queueUrl: string,
  messages: readonly unknown[],
  delaySeconds = 0,
): Promise<void> {
  const DelaySeconds = Math.max(0, Math.min(WEBHOOK_QUEUE.maxDelaySeconds, Math.round(delaySeconds)));
  for (let i = 0; i < messages.length; i += 10) {
    let entries = messages
      .slice(i, i + 10)
      .map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m), DelaySeconds }));
    for (let attempt = 1; entries.length > 0; attempt++) {
      const { Failed } = await client.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
      );
      const failed = new Set((Failed ?? []).map((f) => f.Id));
      if (failed.size > 0 && attempt >= 2) {
        const first = Failed?.[0];
        throw new Error(
          `SendMessageBatch failed for ${failed.size} messages: ${first?.Code}: ${first?.Message}`,
        );
      }
      entries = entries.filter((e) => failed.has(e.Id));
    }
  }
}

export class SqsWebhookQueue implements WebhookQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(message: WebhookMessage, delaySeconds = 0): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        DelaySeconds: Math.max(0, Math.min(WEBHOOK_QUEUE.maxDelaySeconds, Math.round(delaySeconds))),
      }),
    );
  }
}

/** SQS caps a visibility timeout at 12 hours. */
const MAX_VISIBILITY_SECONDS = 12 * 3600;

/**
 * ChangeMessageVisibility for the records an event source handed over. A record names its queue by
 * ARN; the URL is looked up once per queue with GetQueueUrl, which works against AWS and stand-ins alike.
 */
export class SqsMessageVisibility implements MessageVisibility {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(private readonly client: SQSClient) {}

  async change(queueArn: string, receiptHandles: readonly string[], seconds: number): Promise<void> {
    if (receiptHandles.length === 0) return;
    const QueueUrl = await this.urlOf(queueArn);
    const VisibilityTimeout = Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, Math.round(seconds)));
    const failures: string[] = [];
    for (let i = 0; i < receiptHandles.length; i += 10) {
      const chunk = receiptHandles.slice(i, i + 10);
      const { Failed } = await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl,
          Entries: chunk.map((ReceiptHandle, j) => ({ Id: String(j), ReceiptHandle, VisibilityTimeout })),
        }),
      );
      for (const f of Failed ?? []) failures.push(`${f.Code}: ${f.Message}`);
    }
    // A message already deleted or received again elsewhere cannot be changed; that is not an error here.
    if (failures.length === receiptHandles.length && failures.length > 0) {
      throw new Error(`ChangeMessageVisibility failed: ${failures[0]}`);
    }
  }

  private urlOf(queueArn: string): Promise<string> {
    let url = this.urls.get(queueArn);
    if (!url) {
      const [, , , , account, name] = queueArn.split(":");
      if (!account || !name) throw new Error(`Not an SQS queue ARN: ${queueArn}`);
      url = this.client
        .send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))
        .then(({ QueueUrl }) => {
          if (!QueueUrl) throw new Error(`No URL for queue ${queueArn}`);
          return QueueUrl;
        });
      url.catch(() => this.urls.delete(queueArn));
      this.urls.set(queueArn, url);
    }
    return url;
  }
}
