import type { Logger } from "../core/ports.js";
import { powertoolsLogger } from "./powertools-logger.js";

/** One redacted JSON object per line for `service`: the Powertools logger in its JSON format. */
export function jsonLogger(service: string, write?: (line: string) => void): Logger {
  return powertoolsLogger({ serviceName: service, ...(write ? { write } : {}) });
}

/** Discards everything; for tests and commands whose output is not the stack's logs. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
