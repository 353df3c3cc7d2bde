/** Lambda entry of the webhook dispatcher: its definition's configuration and wiring, once per container. */
import { powertoolsMetrics } from "../../adapters/aws/emf-metrics.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { systemClock } from "../../core/ports.js";
import { readConfig } from "../function-definition.js";
import { lazyClients } from "../wiring.js";
import { webhookDispatcherFunction } from "./function.js";
import { webhookDispatcherClients, wireWebhookDispatcher } from "./wire.js";

const config = readConfig(webhookDispatcherFunction);
const serviceName = webhookDispatcherFunction.name;
const logger = powertoolsLogger({ serviceName });

export const handler = withLambdaContext(
  logger,
  wireWebhookDispatcher(
    lazyClients(webhookDispatcherClients, () => ({})),
    config,
    {
      logger,
      clock: systemClock,
      metrics: powertoolsMetrics({ serviceName }),
    },
  ),
);
