/** Lambda entry of the reconciler: its definition's configuration and wiring, once per container. */
import { powertoolsMetrics } from "../../adapters/aws/emf-metrics.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { systemClock } from "../../core/ports.js";
import { readConfig } from "../function-definition.js";
import { lazyClients } from "../wiring.js";
import { reconcilerFunction } from "./function.js";
import { reconcilerClients, wireReconciler } from "./wire.js";

const config = readConfig(reconcilerFunction);
const serviceName = reconcilerFunction.name;
const logger = powertoolsLogger({ serviceName });

export const handler = withLambdaContext(
  logger,
  wireReconciler(
    lazyClients(reconcilerClients, () => ({})),
    config,
    {
      logger,
      clock: systemClock,
      metrics: powertoolsMetrics({ serviceName }),
    },
  ),
);
