/** Lambda entry of the batch fan-out function: its definition's configuration and wiring, once per container. */
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { systemClock } from "../../core/ports.js";
import { readConfig } from "../function-definition.js";
import { lazyClients } from "../wiring.js";
import { batchFanOutFunction } from "./function.js";
import { batchFanOutClients, wireBatchFanOut } from "./wire.js";

const config = readConfig(batchFanOutFunction);
const logger = powertoolsLogger({ serviceName: batchFanOutFunction.name });

export const handler = withLambdaContext(
  logger,
  wireBatchFanOut(
    lazyClients(batchFanOutClients, () => ({})),
    config,
    { logger, clock: systemClock },
  ),
);
