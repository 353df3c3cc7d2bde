/** Lambda entry of the api function: its definition's configuration and wiring, once per container. */
import { powertoolsMetrics } from "../../adapters/aws/emf-metrics.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { systemClock } from "../../core/ports.js";
import { readConfig } from "../function-definition.js";
import { lazyClients } from "../wiring.js";
import { apiFunction } from "./function.js";
import { apiClients, wireApi } from "./wire.js";

const config = readConfig(apiFunction);
const logger = powertoolsLogger({ serviceName: apiFunction.name });

export const handler = withLambdaContext(
  logger,
  wireApi(
    lazyClients(apiClients, () => ({})),
    config,
    { logger, clock: systemClock, metrics: powertoolsMetrics({ serviceName: apiFunction.name }) },
  ),
);
