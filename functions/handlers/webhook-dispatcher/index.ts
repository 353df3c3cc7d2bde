/** Lambda entry of the webhook dispatcher: configuration and clients once per container, then the handler. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { DynamoDbWebhookSecretStore } from "../../adapters/aws/dynamodb-webhook-secret-store.js";
import { powertoolsMetrics } from "../../adapters/aws/emf-metrics.js";
import { SqsWebhookQueue } from "../../adapters/aws/sqs-render-queue.js";
import { PinnedWebhookSender } from "../../adapters/http/pinned-webhook-sender.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { ENV } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { systemClock } from "../../core/ports.js";
import { callbackPolicyFrom, DEFAULT_WEBHOOK_SCHEDULE } from "../../core/webhooks.js";
import { readEnv } from "../env.js";
import { makeHandler } from "./handler.js";

const env = readEnv(
  {
    [ENV.jobsTable]: z.string().min(1),
    [ENV.webhookQueueUrl]: z.url(),
    [ENV.callbackSchemes]: z.string().optional(),
    [ENV.callbackHosts]: z.string().optional(),
  },
  {
    component: "webhook-dispatcher",
    hints: {
      [ENV.jobsTable]: "the name of the jobs table",
      [ENV.webhookQueueUrl]: "the URL of the webhook queue",
    },
  },
);

const dynamodb = new DynamoDBClient({});

const logger = powertoolsLogger({ serviceName: SERVICES.webhookDispatcher });

const policy = callbackPolicyFrom(env[ENV.callbackSchemes], env[ENV.callbackHosts]);

const handle = makeHandler({
  jobs: new DynamoDbJobStore(dynamodb, env[ENV.jobsTable]),
  secrets: new DynamoDbWebhookSecretStore(dynamodb, env[ENV.jobsTable]),
  queue: new SqsWebhookQueue(new SQSClient({}), env[ENV.webhookQueueUrl]),
  sender: new PinnedWebhookSender({ policy }),
  clock: systemClock,
  policy,
  schedule: DEFAULT_WEBHOOK_SCHEDULE,
  timeoutMs: 10_000,
  concurrency: 10,
  logger,
  metrics: powertoolsMetrics({ serviceName: SERVICES.webhookDispatcher }),
});

export const handler = withLambdaContext(logger, handle);
