import type { Metrics } from "../../core/ports.js";

export const METRICS_NAMESPACE = "Kiln";

/**
 * CloudWatch Embedded Metric Format: a log line that CloudWatch turns into metrics, so the worker
 * publishes RenderDuration without an API call on the hot path.
 */
export function emfMetrics(
  service: string,
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Metrics {
  const emit = (metrics: Array<{ Name: string; Unit: string }>, values: Record<string, unknown>) =>
    write(
      JSON.stringify({
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [["Service"]], Metrics: metrics }],
        },
        Service: service,
        ...values,
      }),
    );
  return {
    renderSucceeded: ({ format, durationMs, bytes }) =>
      emit(
        [
          { Name: "RenderDuration", Unit: "Milliseconds" },
          { Name: "OutputBytes", Unit: "Bytes" },
        ],
        { RenderDuration: durationMs, OutputBytes: bytes, format },
      ),
    renderFailed: ({ code }) =>
      emit([{ Name: "RenderFailures", Unit: "Count" }], { RenderFailures: 1, code }),
  };
}
