import type { SQSEvent, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import {
  EchoRenderer,
  FixedClock,
  MemoryJobStore,
  MemoryObjectStore,
  MemoryPayloadStore,
  MemoryVisibility,
  MemoryWebhookQueue,
  RecordingLogger,
  RecordingMetrics,
} from "../../functions/adapters/memory/memory-ports.js";
import { silentLogger } from "../../functions/adapters/silent-logger.js";
import type { Job } from "../../functions/core/job.js";
import type { Logger } from "../../functions/core/ports.js";
import { makeHandler } from "../../functions/handlers/render-worker/handler.js";

function setup(logger: Logger = silentLogger) {
  const jobs = new MemoryJobStore();
  const renderer = new EchoRenderer();
  const clock = new FixedClock();
  const metrics = new RecordingMetrics();
  for (const id of ["j1", "j2", "j3"]) {
    const job: Job = {
      tenant: "t",
      id,
      status: "queued",
      createdAt: clock.now().toISOString(),
      updatedAt: clock.now().toISOString(),
      attempts: 0,
      request: {
        template: { html: `<p>${id}</p>` },
        data: {},
        output: { format: "png", width: 10, height: 10, scale: 1 },
      },
    };
    jobs.jobs.set(`t/${id}`, job);
  }
  const visibility = new MemoryVisibility();
  const handler = makeHandler({
    jobs,
    renderer,
    outputs: new MemoryObjectStore(),
    payloads: new MemoryPayloadStore(),
    webhooks: new MemoryWebhookQueue(),
    visibility,
    holdSeconds: 30,
    retry: { baseSeconds: 2, maxSeconds: 60 },
    storeRetry: { attempts: 2, baseDelayMs: 1 },
    random: () => 1,
    clock,
    maxReceiveCount: 3,
    concurrency: 2,
    logger,
    metrics,
  });
  return { handler, jobs, renderer, metrics, visibility, clock };
}

const QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:kiln-render";

function record(messageId: string, body: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    eventSourceARN: QUEUE_ARN,
    body,
    attributes: { ApproximateReceiveCount: String(receiveCount) },
  } as unknown as SQSRecord;
}
const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

describe("render worker handler", () => {
  it("reports only the record that failed transiently, after setting its retry delay", async () => {
    const { handler, jobs, renderer, metrics, visibility } = setup();
    renderer.render = async (html) => {
      if (html.includes("j2")) throw new Error("Target closed");
      return new TextEncoder().encode(html);
    };
    const res = await handler(
      batch(
        record("m1", JSON.stringify({ tenant: "t", jobId: "j1" })),
        record("m2", JSON.stringify({ tenant: "t", jobId: "j2" })),
        record("m3", JSON.stringify({ tenant: "t", jobId: "j3" })),
      ),
    );
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "m2" }]);
    expect((await jobs.get("t", "j1"))?.status).toBe("succeeded");
    expect((await jobs.get("t", "j2"))?.status).toBe("rendering");
    expect((await jobs.get("t", "j3"))?.status).toBe("succeeded");
    expect(metrics.succeeded.map((m) => m.format)).toEqual(["png", "png"]);
    // First the whole batch is held for 30 s; then only m2 gets its backoff (2 s × 2^0, random = 1).
    expect(visibility.calls[0]).toEqual({
      queueArn: QUEUE_ARN,
      receiptHandles: ["rh-m1", "rh-m2", "rh-m3"],
      seconds: 30,
    });
    expect(visibility.current.get("rh-m2")).toBe(2);
    expect(visibility.calls.filter((c) => c.seconds !== 30)).toEqual([
      { queueArn: QUEUE_ARN, receiptHandles: ["rh-m2"], seconds: 2 },
    ]);
  });

  it("on the last delivery marks the job failed and still reports it, visible at once, so the message reaches the DLQ", async () => {
    const { handler, jobs, renderer, metrics, visibility } = setup();
    renderer.failures.push(new Error("browser crashed"));
    const msg = JSON.stringify({ tenant: "t", jobId: "j1" });
    expect((await handler(batch(record("m1", msg, 2)))).batchItemFailures).toEqual([
      { itemIdentifier: "m1" },
    ]);
    const res = await handler(batch(record("m1", msg, 3)));
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
    expect((await jobs.get("t", "j1"))?.error?.message).toContain("browser crashed");
    expect(metrics.failed).toEqual([{ code: "render_failed" }]);
    expect(visibility.current.get("rh-m1")).toBe(0);
  });

  it("leaves malformed messages for the DLQ instead of dropping them", async () => {
    const { handler } = setup();
    const res = await handler(batch(record("m1", "not json"), record("m2", JSON.stringify({ tenant: "t" }))));
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "m1" }, { itemIdentifier: "m2" }]);
  });

  it("acknowledges a redelivered message whose job already succeeded without rendering again", async () => {
    const { handler, renderer } = setup();
    const msg = JSON.stringify({ tenant: "t", jobId: "j1" });
    await handler(batch(record("m1", msg)));
    const again = await handler(batch(record("m1", msg, 2)));
    expect(again.batchItemFailures).toEqual([]);
    expect(renderer.calls).toHaveLength(1);
  });

  it("renders up to `concurrency` records of a batch at once and keeps the failures straight", async () => {
    const { handler, renderer } = setup();
    let inFlight = 0;
    let peak = 0;
    renderer.render = async (html) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      // Yield a whole turn of the event loop so every lane that can start, does.
      await new Promise((r) => setImmediate(r));
      inFlight--;
      if (html.includes("j2")) throw new Error("Target closed");
      return new TextEncoder().encode(html);
    };
    const res = await handler(
      batch(
        record("m1", JSON.stringify({ tenant: "t", jobId: "j1" })),
        record("m2", JSON.stringify({ tenant: "t", jobId: "j2" })),
        record("m3", JSON.stringify({ tenant: "t", jobId: "j3" })),
      ),
    );
    expect(peak).toBe(2);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "m2" }]);
  });

  it("reports a record whose store call throws, and carries on with the batch", async () => {
    const { handler, jobs } = setup();
    const original = jobs.startAttempt.bind(jobs);
    jobs.startAttempt = async (tenant, id, lease, at) => {
      if (id === "j1") throw new Error("ProvisionedThroughputExceededException");
      return original(tenant, id, lease, at);
    };
    const res = await handler(
      batch(
        record("m1", JSON.stringify({ tenant: "t", jobId: "j1" })),
        record("m2", JSON.stringify({ tenant: "t", jobId: "j2" })),
      ),
    );
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
    expect((await jobs.get("t", "j2"))?.status).toBe("succeeded");
  });
});

describe("render worker handler: observability", () => {
  it("puts job id, tenant and correlation id on every line of a record, even as records interleave", async () => {
    const logger = new RecordingLogger();
    const { handler, renderer } = setup(logger);
    renderer.render = async (html) => {
      if (html.includes("j2")) throw new Error("Target closed");
      return new TextEncoder().encode(html);
    };
    await handler(
      batch(
        record("m1", JSON.stringify({ tenant: "t", jobId: "j1", correlationId: "c-1" })),
        record("m2", JSON.stringify({ tenant: "t", jobId: "j2", correlationId: "c-2" })),
      ),
    );
    const linesOf = (jobId: string) => logger.lines.filter((l) => l.fields.jobId === jobId);
    expect(linesOf("j1").map((l) => l.message)).toContain("render succeeded");
    expect(linesOf("j2").map((l) => l.message)).toContain("render attempt failed; will retry");
    for (const [jobId, correlationId, messageId] of [
      ["j1", "c-1", "m1"],
      ["j2", "c-2", "m2"],
    ]) {
      for (const line of linesOf(jobId as string))
        expect(line.fields).toMatchObject({ tenant: "t", correlationId, messageId });
    }
  });

  it("measures the queue wait from SQS's SentTimestamp to the start of the render", async () => {
    const { handler, metrics, clock } = setup();
    const sent = clock.now().getTime() - 1500;
    const withSent = {
      ...record("m1", JSON.stringify({ tenant: "t", jobId: "j1" })),
      attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(sent) },
    } as unknown as SQSRecord;
    await handler(batch(withSent));
    expect(metrics.succeeded).toEqual([expect.objectContaining({ format: "png", queueWaitMs: 1500 })]);
  });

  it("still accepts render messages sent before they carried a correlation id", async () => {
    const { handler, jobs } = setup();
    const res = await handler(batch(record("m1", JSON.stringify({ tenant: "t", jobId: "j1" }))));
    expect(res.batchItemFailures).toEqual([]);
    expect((await jobs.get("t", "j1"))?.status).toBe("succeeded");
  });
});
