/**
 * The render worker in Lambda, loaded by its entry (index.ts) once Chromium's extraction has begun: its
 * definition's configuration and wiring, once per container. The browser pool lives at module scope so
 * a warm container reuses its Chromium across invocations.
 */
import { powertoolsMetrics } from "../../adapters/aws/emf-metrics.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { systemClock } from "../../core/ports.js";
import { readConfig } from "../function-definition.js";
import { lazyClients } from "../wiring.js";
import { renderWorkerFunction } from "./function.js";
import { renderWorkerBrowsers, renderWorkerClients, wireRenderWorker } from "./wire.js";

const config = readConfig(renderWorkerFunction);
const serviceName = renderWorkerFunction.name;
const logger = powertoolsLogger({ serviceName });

const browsers = renderWorkerBrowsers(config);
// Launch during init, so the first invocation finds a browser and a page waiting.
browsers.warm();

export const handler = withLambdaContext(
  logger,
  wireRenderWorker(
    lazyClients(renderWorkerClients, () => ({})),
    config,
    {
      logger,
      clock: systemClock,
      metrics: powertoolsMetrics({ serviceName }),
      browsers,
    },
  ),
);
