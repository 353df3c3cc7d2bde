/** The webhook dispatcher's adapters and handler, from its configuration (function.ts). */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { DynamoDbWebhookSecretStore } from "../../adapters/aws/dynamodb-webhook-secret-store.js";
import { KmsSecretCipher } from "../../adapters/aws/kms-secret-cipher.js";
import { SqsWebhookQueue } from "../../adapters/aws/sqs-render-queue.js";
import {
  PinnedWebhookSender,
  type PinnedWebhookSenderOptions,
} from "../../adapters/http/pinned-webhook-sender.js";
import type { Metrics } from "../../core/ports.js";
import {
  callbackPolicyFrom,
  DEFAULT_WEBHOOK_SCHEDULE,
  type WebhookRetrySchedule,
} from "../../core/webhooks.js";
import type { ConfigOf } from "../function-definition.js";
import { adapterWrapper, type ClientsOf, type FunctionRuntime } from "../wiring.js";
import type { webhookDispatcherFunction } from "./function.js";
import { makeHandler } from "./handler.js";

export const webhookDispatcherClients = { dynamodb: DynamoDBClient, sqs: SQSClient, kms: KMSClient } as const;

export interface WebhookDispatcherRuntime extends FunctionRuntime {
  readonly metrics: Metrics;
  /** @default DEFAULT_WEBHOOK_SCHEDULE (5 s … 10 h within 24 h) */
  readonly schedule?: WebhookRetrySchedule;
  /** How callback hosts are resolved. @default the system resolver */
  readonly resolve?: PinnedWebhookSenderOptions["resolve"];
}

export function wireWebhookDispatcher(
  clients: ClientsOf<typeof webhookDispatcherClients>,
  config: ConfigOf<typeof webhookDispatcherFunction>,
  runtime: WebhookDispatcherRuntime,
) {
  const adapt = adapterWrapper(runtime);
  const policy = callbackPolicyFrom(config.callbackSchemes, config.callbackHosts);
  return makeHandler({
    jobs: adapt(new DynamoDbJobStore(clients.dynamodb, config.jobsTable), "dynamodb.jobs"),
    secrets: adapt(
      new DynamoDbWebhookSecretStore(
        clients.dynamodb,
        config.jobsTable,
        adapt(new KmsSecretCipher(clients.kms, config.webhookSecretsKey), "kms.secrets"),
      ),
      "dynamodb.secrets",
    ),
    queue: adapt(new SqsWebhookQueue(clients.sqs, config.webhookQueueUrl), "sqs.webhooks"),
    sender: new PinnedWebhookSender({ policy, ...(runtime.resolve ? { resolve: runtime.resolve } : {}) }),
    clock: runtime.clock,
    policy,
    schedule: runtime.schedule ?? DEFAULT_WEBHOOK_SCHEDULE,
    timeoutMs: config.timeoutMs,
    concurrency: config.concurrency,
    logger: runtime.logger,
    metrics: runtime.metrics,
  });
}
