import { describe, expect, it } from "vitest";
import {
  FixedClock,
  MemoryJobStore,
  MemoryRenderQueue,
  MemoryWebhookQueue,
  RecordingLogger,
  RecordingMetrics,
} from "../../functions/adapters/memory/memory-ports.js";
import type { Job } from "../../functions/core/job.js";
import { reconcile, verdictFor } from "../../functions/core/reconcile.js";
import {
  DEPLOYED_RENDER_QUEUE_BOUNDS,
  reconcilerFunction,
  stuckAfterSecondsFor,
} from "../../functions/handlers/reconciler/function.js";

const settings = { stuckAfterMs: 600_000, finalDeliveryGraceMs: 60_000 };
const T0 = Date.parse("2026-01-01T00:00:00Z");
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function job(overrides: Partial<Job> = {}): Job {
  return {
    tenant: "acme",
    id: "j1",
    status: "queued",
    createdAt: iso(0),
    updatedAt: iso(0),
    attempts: 0,
    ...overrides,
  };
}

function setUp() {
  const clock = new FixedClock(new Date(T0));
  const jobs = new MemoryJobStore();
  const queue = new MemoryRenderQueue();
  const webhooks = new MemoryWebhookQueue();
  const metrics = new RecordingMetrics();
  const logger = new RecordingLogger();
  const run = () => reconcile({ jobs, queue, webhooks, clock, settings, logger, metrics });
  return { clock, jobs, queue, webhooks, metrics, logger, run };
}

describe("the reconciler's deadline", () => {
  it("is every receive the deployed queue allows, each after the longest hold and backoff", () => {
    // 4 receives × (6 × 60 s visibility + 300 s longest backoff).
    expect(stuckAfterSecondsFor(DEPLOYED_RENDER_QUEUE_BOUNDS)).toBe(4 * (360 + 300));
    expect(reconcilerFunction.settings.stuckAfterSeconds.schema.parse(undefined)).toBe(2640);
    expect(reconcilerFunction.settings.finalDeliveryGraceSeconds.schema.parse(undefined)).toBe(60);
  });
});

describe("verdictFor", () => {
  const now = (ms: number) => new Date(T0 + ms);

  it("leaves terminal jobs, live leases and jobs within their deadline alone", () => {
    expect(verdictFor(job({ status: "succeeded" }), now(10_000_000), settings)).toBeUndefined();
    expect(verdictFor(job(), now(599_999), settings)).toBeUndefined();
    const leased = job({
      status: "rendering",
      attempts: 1,
      lease: { owner: "a", expiresAtMs: T0 + 700_001 },
    });
    expect(verdictFor(leased, now(700_000), settings)).toBeUndefined();
    expect(verdictFor({ ...leased, finalDeliveryAt: iso(0) }, now(700_000), settings)).toBeUndefined();
  });

  it("re-enqueues a queued job that never started, once", () => {
    expect(verdictFor(job(), now(600_000), settings)).toEqual({ action: "requeue" });
    const requeued = job({ requeuedAt: iso(0) });
    expect(verdictFor(requeued, now(600_000), settings)).toMatchObject({
      action: "fail",
      failure: { code: "stuck", message: expect.stringContaining("re-enqueued") },
    });
  });

  it("fails a job whose worker died after the final delivery, once the invocation is surely over", () => {
    const marked = job({
      status: "rendering",
      attempts: 1,
      updatedAt: iso(0),
      finalDeliveryAt: iso(1000),
      lease: { owner: "dead", expiresAtMs: T0 + 500 },
      lastError: { code: "transient_error", message: "boom" },
    });
    expect(verdictFor(marked, now(60_999), settings)).toBeUndefined();
    const verdict = verdictFor(marked, now(61_000), settings);
    expect(verdict).toMatchObject({ action: "fail", failure: { code: "stuck" } });
    expect(verdict?.action === "fail" && verdict.failure.message).toContain("final delivery");
    expect(verdict?.action === "fail" && verdict.failure.message).toContain("transient_error: boom");
  });

  it("fails a rendering job with no delivery left past the deadline", () => {
    const rendering = job({ status: "rendering", attempts: 2, lease: { owner: "x", expiresAtMs: T0 + 1 } });
    expect(verdictFor(rendering, now(600_000), settings)).toMatchObject({
      action: "fail",
      failure: { code: "stuck", message: expect.stringContaining("600 seconds") },
    });
  });
});

describe("reconcile", () => {
  it("re-enqueues a lost queued job once, and a run after it does nothing until the next deadline", async () => {
    const { clock, jobs, queue, metrics, run } = setUp();
    await jobs.create(job({ correlationId: "c-1" }));
    clock.advance(600_000);
    expect(await run()).toEqual({ examined: 1, requeued: 1, failed: 0, waiting: 0, queueWaiting: 0 });
    expect(queue.messages).toEqual([{ tenant: "acme", jobId: "j1", correlationId: "c-1" }]);
    expect(await run()).toEqual({ examined: 0, requeued: 0, failed: 0, waiting: 0, queueWaiting: 0 });
    expect(queue.messages).toHaveLength(1);
    // Still no delivery a whole deadline after the re-enqueue: the job fails, and is not enqueued again.
    clock.advance(600_000);
    expect(await run()).toEqual({ examined: 1, requeued: 0, failed: 1, waiting: 0, queueWaiting: 0 });
    expect(await jobs.get("acme", "j1")).toMatchObject({ status: "failed", error: { code: "stuck" } });
    expect(queue.messages).toHaveLength(1);
    expect(await run()).toEqual({ examined: 0, requeued: 0, failed: 0, waiting: 0, queueWaiting: 0 });
    expect(metrics.reconciled).toEqual([
      { action: "requeued", count: 1 },
      { action: "failed", count: 0 },
      { action: "requeued", count: 0 },
      { action: "failed", count: 0 },
      { action: "requeued", count: 0 },
      { action: "failed", count: 1 },
      { action: "requeued", count: 0 },
      { action: "failed", count: 0 },
    ]);
  });

  it("fails a job left after its final delivery and queues its webhook", async () => {
    const { clock, jobs, queue, webhooks, logger, run } = setUp();
    await jobs.create(job({ callbackUrl: "https://h.example.com/hook" }));
    await jobs.startAttempt("acme", "j1", { owner: "dead", expiresAtMs: T0 + 1000 }, clock.now());
    clock.advance(2000);
    await jobs.markFinalDelivery("acme", "j1", clock.now());
    clock.advance(60_000);
    expect(await run()).toEqual({ examined: 1, requeued: 0, failed: 1, waiting: 0, queueWaiting: 0 });
    expect(await jobs.get("acme", "j1")).toMatchObject({
      status: "failed",
      error: { code: "stuck" },
      webhook: { state: "pending" },
    });
    expect(webhooks.messages.map((m) => m.message)).toEqual([{ tenant: "acme", jobId: "j1", attempt: 1 }]);
    expect(queue.messages).toEqual([]);
    expect(logger.lines.filter((l) => l.message === "reconciler failed a stuck job")).toHaveLength(1);
  });

  it("leaves a job that moved on between the read and the write", async () => {
    const { clock, jobs, queue, run } = setUp();
    await jobs.create(job());
    clock.advance(600_000);
    // A worker starts the job while the run is between its scan and its write.
    const findUnfinished = jobs.findUnfinished.bind(jobs);
    jobs.findUnfinished = async function* (cutoffs) {
      for await (const found of findUnfinished(cutoffs)) {
        await jobs.startAttempt("acme", found.id, { owner: "w", expiresAtMs: T0 + 700_000 }, clock.now());
        yield found;
      }
    };
    expect(await run()).toEqual({ examined: 1, requeued: 0, failed: 0, waiting: 0, queueWaiting: 0 });
    expect(queue.messages).toEqual([]);
    expect(await jobs.get("acme", "j1")).toMatchObject({ status: "rendering", lease: { owner: "w" } });
  });

  it("does not declare a message lost while messages wait in the queue; it does once they have drained", async () => {
    const { clock, jobs, queue, run } = setUp();
    // A retried job whose message went back into a queue behind a spike's backlog.
    await jobs.create(job({ attempts: 1 }));
    clock.advance(600_000);
    queue.waiting = 5000;
    expect(await run()).toEqual({ examined: 1, requeued: 0, failed: 0, waiting: 1, queueWaiting: 5000 });
    expect(await jobs.get("acme", "j1")).toMatchObject({ status: "queued" });
    clock.advance(3_600_000);
    expect(await run()).toMatchObject({ failed: 0, waiting: 1 });
    // The backlog drained and still no delivery came: the message is lost.
    queue.waiting = 0;
    expect(await run()).toEqual({ examined: 1, requeued: 0, failed: 1, waiting: 0, queueWaiting: 0 });
    expect(await jobs.get("acme", "j1")).toMatchObject({ status: "failed", error: { code: "stuck" } });
  });

  it("still re-enqueues a never-started job, and still fails one after its final delivery, behind a backlog", async () => {
    const { clock, jobs, queue, run } = setUp();
    await jobs.create(job({ id: "never-started" }));
    await jobs.create(job({ id: "final" }));
    await jobs.startAttempt("acme", "final", { owner: "dead", expiresAtMs: T0 + 1000 }, clock.now());
    clock.advance(2000);
    await jobs.markFinalDelivery("acme", "final", clock.now());
    clock.advance(600_000);
    queue.waiting = 100;
    expect(await run()).toEqual({ examined: 2, requeued: 1, failed: 1, waiting: 0, queueWaiting: 100 });
    expect(queue.messages).toEqual([{ tenant: "acme", jobId: "never-started" }]);
    expect(await jobs.get("acme", "final")).toMatchObject({ status: "failed", error: { code: "stuck" } });
  });

  it("logs a job it could not settle and goes on with the next", async () => {
    const { clock, jobs, queue, logger, run } = setUp();
    await jobs.create(job({ id: "a" }));
    await jobs.create(job({ id: "b" }));
    clock.advance(600_000);
    queue.failNext = true;
    expect(await run()).toEqual({ examined: 2, requeued: 1, failed: 0, waiting: 0, queueWaiting: 0 });
    expect(logger.lines.filter((l) => l.message === "reconciler could not settle a job")).toHaveLength(1);
  });
});
