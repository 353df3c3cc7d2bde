/** The reconciler's adapters and handler, from its configuration (function.ts). */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { SqsRenderQueue, SqsWebhookQueue } from "../../adapters/aws/sqs-render-queue.js";
import type { Metrics } from "../../core/ports.js";
import type { ConfigOf } from "../function-definition.js";
import { adapterWrapper, type ClientsOf, type FunctionRuntime } from "../wiring.js";
import type { reconcilerFunction } from "./function.js";
import { makeHandler } from "./handler.js";

export const reconcilerClients = { dynamodb: DynamoDBClient, sqs: SQSClient } as const;

export interface ReconcilerRuntime extends FunctionRuntime {
  readonly metrics: Metrics;
}

export function wireReconciler(
  clients: ClientsOf<typeof reconcilerClients>,
  config: ConfigOf<typeof reconcilerFunction>,
  runtime: ReconcilerRuntime,
) {
  const adapt = adapterWrapper(runtime);
  return makeHandler({
    jobs: adapt(new DynamoDbJobStore(clients.dynamodb, config.jobsTable), "dynamodb.jobs"),
    queue: adapt(new SqsRenderQueue(clients.sqs, config.renderQueueUrl), "sqs.render"),
    webhooks: adapt(new SqsWebhookQueue(clients.sqs, config.webhookQueueUrl), "sqs.webhooks"),
    clock: runtime.clock,
    settings: {
      stuckAfterMs: config.stuckAfterSeconds * 1000,
      finalDeliveryGraceMs: config.finalDeliveryGraceSeconds * 1000,
    },
    logger: runtime.logger,
    metrics: runtime.metrics,
  });
}
