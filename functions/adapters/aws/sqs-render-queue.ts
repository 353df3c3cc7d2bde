import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { RenderMessage, RenderQueue } from "../../core/ports.js";

export class SqsRenderQueue implements RenderQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(message: RenderMessage): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }),
    );
  }
}
