import type { Logger } from "../core/ports.js";

/** Discards everything; for tests and commands whose output is not the stack's logs. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
