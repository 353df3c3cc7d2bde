/**
 * Local log lines for a person at a terminal: one JSON log object in, `12:03:04.120 INFO  message
 * key=value …` out. Lines that are not JSON objects pass through unchanged.
 */
export function readableLogLine(line: string, options: { colour?: boolean } = {}): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) return line;
  // The service name and the metric/sampling envelopes say nothing to a person at a terminal.
  const { level, time, timestamp, message, service, _aws, sampling_rate, ...fields } = entry as Record<
    string,
    unknown
  >;
  const when = typeof (time ?? timestamp) === "string" ? clockTime(String(time ?? timestamp)) : "";
  const levelName = String(level ?? "info").toUpperCase();
  const paint = options.colour ? (LEVEL_COLOURS[levelName] ?? "") : "";
  const label = paint ? `${paint}${levelName.padEnd(5)}\u001b[0m` : levelName.padEnd(5);
  const rest = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return [when, label, String(message ?? ""), ...rest].filter((s) => s !== "").join(" ");
}

const LEVEL_COLOURS: Record<string, string> = {
  ERROR: "\u001b[31m",
  WARN: "\u001b[33m",
  INFO: "\u001b[36m",
  DEBUG: "\u001b[90m",
};

/** HH:MM:SS.mmm in local time: the date is noise in a foreground process. */
function clockTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
