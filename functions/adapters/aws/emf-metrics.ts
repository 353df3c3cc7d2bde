import { MetricUnit, Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import { METRICS } from "../../core/observability.js";
import type { Metrics } from "../../core/ports.js";

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Exposes whether POWERTOOLS_METRICS_DISABLED (or POWERTOOLS_DEV) turned metrics off. */
class EmfObject extends PowertoolsMetrics {
  get turnedOff(): boolean {
    return this.isDisabled();
  }
}

export interface PowertoolsMetricsOptions {
  /** The `service` dimension of every metric. */
  readonly serviceName: string;
  /** @default POWERTOOLS_METRICS_NAMESPACE, else METRICS.namespace */
  readonly namespace?: string;
  /** Where each EMF object goes. @default standard output, where Lambda's log agent finds it */
  readonly write?: (line: string) => void;
}

/**
 * Kiln's metrics as CloudWatch Embedded Metric Format lines, built by Powertools Metrics: no API call
 * on the hot path. Each event is one EMF object of its own, published at once, because records of a
 * batch render concurrently and each has its own dimension values (format, failure code).
 *
 * Every metric is published under two dimension sets: [service] (what the alarms watch) and
 * [service, <detail>] (the breakdown on the dashboard).
 */
export function powertoolsMetrics(options: PowertoolsMetricsOptions): Metrics {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const namespace = options.namespace ?? (process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS.namespace);

  const publish = (
    detail: Readonly<Record<string, string>>,
    values: ReadonlyArray<readonly [name: string, unit: Unit, value: number]>,
  ) => {
    const metrics = new EmfObject({ namespace, serviceName: options.serviceName });
    if (metrics.turnedOff) return;
    metrics.addDimensions({});
    metrics.addDimensions({ ...detail });
    for (const [name, unit, value] of values) metrics.addMetric(name, unit, value);
    write(JSON.stringify(metrics.serializeMetrics()));
  };

  return {
    renderSucceeded: ({ format, durationMs, bytes, queueWaitMs }) =>
      publish({ [METRICS.formatDimension]: format }, [
        [METRICS.renderDuration, MetricUnit.Milliseconds, durationMs],
        [METRICS.outputBytes, MetricUnit.Bytes, bytes],
        ...(queueWaitMs === undefined
          ? []
          : [[METRICS.queueWait, MetricUnit.Milliseconds, Math.max(0, queueWaitMs)] as const]),
      ]),
    renderFailed: ({ code }) =>
      publish({ [METRICS.codeDimension]: code }, [[METRICS.renderFailures, MetricUnit.Count, 1]]),
    renderCacheHit: ({ format }) =>
      publish({ [METRICS.formatDimension]: format }, [[METRICS.renderCacheHits, MetricUnit.Count, 1]]),
    webhookAttempted: ({ outcome }) =>
      publish({ [METRICS.outcomeDimension]: outcome }, [[METRICS.webhookDeliveries, MetricUnit.Count, 1]]),
    jobsReconciled: ({ action, count }) =>
      publish({ [METRICS.actionDimension]: action }, [[METRICS.reconciledJobs, MetricUnit.Count, count]]),
  };
}
