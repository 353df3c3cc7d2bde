/**
 * Lambda entry of the signer function, the only one that can read the URL-signing private key: its
 * definition's configuration and wiring, once per container; a missing or bad variable fails the cold start.
 */
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { systemClock } from "../../core/ports.js";
import { readConfig } from "../function-definition.js";
import { lazyClients } from "../wiring.js";
import { signAssetsFunction } from "./function.js";
import { signAssetsClients, wireSignAssets } from "./wire.js";

const config = readConfig(signAssetsFunction);
const logger = powertoolsLogger({ serviceName: signAssetsFunction.name });

export const handler = withLambdaContext(
  logger,
  wireSignAssets(
    lazyClients(signAssetsClients, () => ({})),
    config,
    { logger, clock: systemClock },
  ),
);
