import { afterEach, describe, expect, it, vi } from "vitest";
import { powertoolsMetrics } from "../../functions/adapters/aws/emf-metrics.js";
import { RecordingLogger } from "../../functions/adapters/memory/memory-ports.js";
import { METRICS } from "../../functions/core/observability.js";
import { MetricsSummary } from "../../functions/local/metrics-summary.js";

// biome-ignore lint/suspicious/noExplicitAny: EMF objects are untyped JSON.
type Emf = any;

function capture(serviceName = "render-worker", namespace?: string) {
  const objects: Emf[] = [];
  const metrics = powertoolsMetrics({
    serviceName,
    ...(namespace ? { namespace } : {}),
    write: (line) => objects.push(JSON.parse(line)),
  });
  return { metrics, objects };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("the EMF metrics adapter", () => {
  it("publishes a render's duration, bytes and queue wait under [service] and [service, format]", () => {
    const { metrics, objects } = capture();
    metrics.renderSucceeded({ format: "pdf", durationMs: 120, bytes: 4096, queueWaitMs: 35 });
    expect(objects).toHaveLength(1);
    const [emf] = objects;
    const [directive] = emf._aws.CloudWatchMetrics;
    expect(directive.Namespace).toBe(METRICS.namespace);
    expect(directive.Dimensions).toEqual([["service"], ["service", "format"]]);
    expect(directive.Metrics).toEqual([
      { Name: METRICS.renderDuration, Unit: "Milliseconds" },
      { Name: METRICS.outputBytes, Unit: "Bytes" },
      { Name: METRICS.queueWait, Unit: "Milliseconds" },
    ]);
    expect(emf).toMatchObject({
      service: "render-worker",
      format: "pdf",
      RenderDuration: 120,
      OutputBytes: 4096,
      QueueWait: 35,
    });
    expect(typeof emf._aws.Timestamp).toBe("number");
  });

  it("leaves QueueWait out when the wait is unknown", () => {
    const { metrics, objects } = capture();
    metrics.renderSucceeded({ format: "png", durationMs: 80, bytes: 10 });
    expect(objects[0]._aws.CloudWatchMetrics[0].Metrics.map((m: Emf) => m.Name)).toEqual([
      METRICS.renderDuration,
      METRICS.outputBytes,
    ]);
  });

  it("counts failures by code and webhook deliveries by outcome", () => {
    const { metrics, objects } = capture("webhook-dispatcher");
    metrics.renderFailed({ code: "template_error" });
    metrics.webhookAttempted({ outcome: "gave-up" });
    expect(objects[0]).toMatchObject({ code: "template_error", RenderFailures: 1 });
    expect(objects[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service"], ["service", "code"]]);
    expect(objects[1]).toMatchObject({
      service: "webhook-dispatcher",
      outcome: "gave-up",
      WebhookDeliveries: 1,
    });
    expect(objects[1]._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: METRICS.webhookDeliveries, Unit: "Count" },
    ]);
  });

  it("counts render-cache hits by format, from the api", () => {
    const { metrics, objects } = capture("api");
    metrics.renderCacheHit({ format: "pdf" });
    expect(objects[0]).toMatchObject({ service: "api", format: "pdf", RenderCacheHits: 1 });
    expect(objects[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([["service"], ["service", "format"]]);
    expect(objects[0]._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: METRICS.renderCacheHits, Unit: "Count" },
    ]);
    const summary = new MetricsSummary(new RecordingLogger());
    summary.renderCacheHit({ format: "pdf" });
    expect(summary.summary()).toMatchObject({ [METRICS.renderCacheHits]: { pdf: 1 } });
  });

  it("keeps concurrent renders' dimensions apart: one EMF object per event", () => {
    const { metrics, objects } = capture();
    metrics.renderSucceeded({ format: "png", durationMs: 1, bytes: 1 });
    metrics.renderSucceeded({ format: "pdf", durationMs: 2, bytes: 2 });
    expect(objects.map((o) => [o.format, o.RenderDuration])).toEqual([
      ["png", 1],
      ["pdf", 2],
    ]);
  });

  it("takes the namespace from POWERTOOLS_METRICS_NAMESPACE and stays quiet when metrics are disabled", () => {
    vi.stubEnv("POWERTOOLS_METRICS_NAMESPACE", "KilnStaging");
    const named = capture();
    named.metrics.renderFailed({ code: "render_failed" });
    expect(named.objects[0]._aws.CloudWatchMetrics[0].Namespace).toBe("KilnStaging");

    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "true");
    const off = capture();
    off.metrics.renderFailed({ code: "render_failed" });
    expect(off.objects).toEqual([]);
  });
});

describe("the local metrics summary", () => {
  it("logs one line for what happened since the last one, named after the CloudWatch metrics", () => {
    const logger = new RecordingLogger();
    const summary = new MetricsSummary(logger, 3_600_000);
    for (const durationMs of [10, 20, 30, 40, 100])
      summary.renderSucceeded({ format: "png", durationMs, bytes: 1000, queueWaitMs: durationMs / 10 });
    summary.renderSucceeded({ format: "pdf", durationMs: 50, bytes: 500 });
    summary.renderFailed({ code: "template_error" });
    summary.webhookAttempted({ outcome: "delivered" });
    expect(logger.lines).toEqual([]);
    summary.flush();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]?.message).toBe("metrics");
    expect(logger.lines[0]?.fields).toMatchObject({
      renders: { succeeded: 6, failed: 1, byFormat: { png: 5, pdf: 1 } },
      RenderDuration: { p50: 30, p95: 100, max: 100 },
      QueueWait: { p50: 3, p95: 10, max: 10 },
      OutputBytes: 5500,
      RenderFailures: { template_error: 1 },
      WebhookDeliveries: { delivered: 1 },
    });
  });

  it("says nothing when nothing happened", () => {
    const logger = new RecordingLogger();
    const summary = new MetricsSummary(logger);
    summary.flush();
    summary.renderFailed({ code: "render_failed" });
    summary.flush();
    summary.flush();
    expect(logger.lines.map((l) => l.fields.renders)).toEqual([{ succeeded: 0, failed: 1, byFormat: {} }]);
  });
});
