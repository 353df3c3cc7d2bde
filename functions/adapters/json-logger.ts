import type { Logger } from "../core/ports.js";

/** One JSON object per line: what CloudWatch Logs Insights queries, and readable enough locally. */
export function jsonLogger(
  service: string,
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Logger {
  const emit = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ level, time: new Date().toISOString(), service, message, ...fields }));
  return {
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

export function errorFields(err: unknown): Record<string, unknown> {
  return err instanceof Error
    ? { error: { name: err.name, message: err.message, stack: err.stack } }
    : { error: String(err) };
}
