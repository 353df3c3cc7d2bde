import { METRICS } from "../core/observability.js";
import type { Logger, Metrics } from "../core/ports.js";

/**
 * The local stack's metrics: instead of an EMF object per render, one `metrics` line summarising
 * what happened, at most once per period and only when something did (and once more at stop).
 */
export class MetricsSummary implements Metrics {
  private durations: number[] = [];
  private waits: number[] = [];
  private bytes = 0;
  private byFormat: Record<string, number> = {};
  private failures: Record<string, number> = {};
  private cacheHits: Record<string, number> = {};
  private webhooks: Record<string, number> = {};
  private reconciled: Record<string, number> = {};
  private since = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly periodMs = 60_000,
  ) {}

  renderSucceeded(f: { format: string; durationMs: number; bytes: number; queueWaitMs?: number }): void {
    this.durations.push(f.durationMs);
    if (f.queueWaitMs !== undefined) this.waits.push(f.queueWaitMs);
    this.bytes += f.bytes;
    this.byFormat[f.format] = (this.byFormat[f.format] ?? 0) + 1;
    this.schedule();
  }

  renderFailed(f: { code: string }): void {
    this.failures[f.code] = (this.failures[f.code] ?? 0) + 1;
    this.schedule();
  }

  renderCacheHit(f: { format: string }): void {
    this.cacheHits[f.format] = (this.cacheHits[f.format] ?? 0) + 1;
    this.schedule();
  }

  webhookAttempted(f: { outcome: string }): void {
    this.webhooks[f.outcome] = (this.webhooks[f.outcome] ?? 0) + 1;
    this.schedule();
  }

  jobsReconciled(f: { action: string; count: number }): void {
    if (f.count === 0) return;
    this.reconciled[f.action] = (this.reconciled[f.action] ?? 0) + f.count;
    this.schedule();
  }

  /** Logs what was recorded since the last line, if anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    const summary = this.summary(now);
    if (summary) this.logger.info("metrics", summary);
    this.durations = [];
    this.waits = [];
    this.bytes = 0;
    this.byFormat = {};
    this.failures = {};
    this.cacheHits = {};
    this.webhooks = {};
    this.reconciled = {};
    this.since = now;
  }

  /** The fields of the next `metrics` line, named after the CloudWatch metrics; undefined when idle. */
  summary(now = Date.now()): Record<string, unknown> | undefined {
    const failed = Object.values(this.failures).reduce((a, b) => a + b, 0);
    const delivered = Object.values(this.webhooks).reduce((a, b) => a + b, 0);
    const reconciled = Object.values(this.reconciled).reduce((a, b) => a + b, 0);
    const hits = Object.values(this.cacheHits).reduce((a, b) => a + b, 0);
    if (this.durations.length === 0 && failed === 0 && delivered === 0 && reconciled === 0 && hits === 0)
      return undefined;
    return {
      periodSeconds: Math.round((now - this.since) / 1000),
      renders: { succeeded: this.durations.length, failed, byFormat: this.byFormat },
      ...(this.durations.length > 0 ? { [METRICS.renderDuration]: percentiles(this.durations) } : {}),
      ...(this.waits.length > 0 ? { [METRICS.queueWait]: percentiles(this.waits) } : {}),
      ...(this.durations.length > 0 ? { [METRICS.outputBytes]: this.bytes } : {}),
      ...(failed > 0 ? { [METRICS.renderFailures]: this.failures } : {}),
      ...(hits > 0 ? { [METRICS.renderCacheHits]: this.cacheHits } : {}),
      ...(delivered > 0 ? { [METRICS.webhookDeliveries]: this.webhooks } : {}),
      ...(reconciled > 0 ? { [METRICS.reconciledJobs]: this.reconciled } : {}),
    };
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.periodMs);
    // A summary never keeps the process alive.
    this.timer.unref();
  }
}

function percentiles(values: readonly number[]): { p50: number; p95: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(sorted.at(-1) ?? 0) };
}
