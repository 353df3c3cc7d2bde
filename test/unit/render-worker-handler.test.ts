import type { SQSEvent, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../functions/adapters/json-logger.js";
import {
  EchoRenderer,
  FixedClock,
  MemoryJobStore,
  MemoryObjectStore,
  RecordingMetrics,
} from "../../functions/adapters/memory/memory-ports.js";
import type { Job } from "../../functions/core/job.js";
import { makeHandler } from "../../functions/handlers/render-worker/handler.js";

function setup() {
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
  const handler = makeHandler({
    jobs,
    renderer,
    outputs: new MemoryObjectStore(),
    clock,
    maxReceiveCount: 3,
    concurrency: 2,
    logger: silentLogger,
    metrics,
  });
  return { handler, jobs, renderer, metrics };
}

function record(messageId: string, body: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    body,
    attributes: { ApproximateReceiveCount: String(receiveCount) },
  } as unknown as SQSRecord;
}
const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

describe("render worker handler", () => {
  it("reports only the record that failed transiently", async () => {
    const { handler, jobs, renderer, metrics } = setup();
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
  });

  it("on the last delivery marks the job failed and still reports it, so the message reaches the DLQ", async () => {
    const { handler, jobs, renderer, metrics } = setup();
    renderer.failures.push(new Error("browser crashed"));
    const res = await handler(batch(record("m1", JSON.stringify({ tenant: "t", jobId: "j1" }), 3)));
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
    expect((await jobs.get("t", "j1"))?.error?.message).toContain("browser crashed");
    expect(metrics.failed).toEqual([{ code: "render_failed" }]);
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
    jobs.startAttempt = async (tenant, id, at) => {
      if (id === "j1") throw new Error("ProvisionedThroughputExceededException");
      return original(tenant, id, at);
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
