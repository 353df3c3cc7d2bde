import type { SQSEvent, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import {
  FixedClock,
  MemoryJobStore,
  MemoryWebhookQueue,
  MemoryWebhookSecretStore,
  RecordingLogger,
  RecordingMetrics,
  RecordingWebhookSender,
} from "../../functions/adapters/memory/memory-ports.js";
import { verifyWebhook } from "../../functions/client/webhooks.js";
import type { Job } from "../../functions/core/job.js";
import { makeHandler } from "../../functions/handlers/webhook-dispatcher/handler.js";
import { jobAwaitingWebhook } from "./support/jobs.js";

function setup(job: Partial<Job> = {}) {
  const clock = new FixedClock(new Date("2026-01-01T00:00:10Z"));
  const jobs = new MemoryJobStore();
  const secrets = new MemoryWebhookSecretStore();
  const queue = new MemoryWebhookQueue();
  const sender = new RecordingWebhookSender();
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  jobs.jobs.set("t/j1", jobAwaitingWebhook(job));
  const handler = makeHandler({
    jobs,
    secrets,
    queue,
    sender,
    clock,
    policy: { schemes: ["https"] },
    schedule: { delaysSeconds: [5, 600, 3600], windowSeconds: 5400 },
    timeoutMs: 1000,
    storeRetry: { attempts: 2, baseDelayMs: 1 },
    concurrency: 2,
    logger,
    metrics,
  });
  return { handler, jobs, secrets, queue, sender, clock, logger, metrics };
}

const event = (...bodies: unknown[]): SQSEvent => ({
  Records: bodies.map((b, i) => ({ messageId: `m${i}`, body: JSON.stringify(b) }) as unknown as SQSRecord),
});

describe("webhook dispatcher", () => {
  it("POSTs a signed event the receiver can verify with the tenant secret, and records the delivery", async () => {
    const { handler, jobs, secrets, sender, queue } = setup();
    const res = await handler(event({ tenant: "t", jobId: "j1", attempt: 1 }));
    expect(res.batchItemFailures).toEqual([]);
    const [request] = sender.requests;
    expect(request?.url).toBe("https://hooks.example.com/k");
    const verified = verifyWebhook(
      (await secrets.getOrCreate("t")).current,
      request?.headers ?? {},
      request?.body ?? "",
      {
        nowMs: Date.parse("2026-01-01T00:00:10Z"),
      },
    );
    expect(verified).toMatchObject({ type: "render.succeeded", data: { id: "j1", status: "succeeded" } });
    const job = await jobs.get("t", "j1");
    expect(job?.webhook?.state).toBe("delivered");
    expect(job?.webhook?.attempts).toEqual([
      { attempt: 1, at: "2026-01-01T00:00:10.000Z", status: 200, durationMs: expect.any(Number) },
    ]);
    expect(queue.messages).toEqual([]);
  });

  it("signs with both secrets during a rotation's overlap and with the new one alone after it", async () => {
    const { handler, jobs, secrets, sender, clock } = setup();
    const old = (await secrets.getOrCreate("t")).current;
    const { current: fresh } = await secrets.rotate("t", clock.now(), 60);
    await handler(event({ tenant: "t", jobId: "j1", attempt: 1 }));
    const during = sender.requests[0];
    const at = { nowMs: clock.now().getTime() };
    expect(during?.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    for (const secret of [old, fresh]) {
      expect(verifyWebhook(secret, during?.headers ?? {}, during?.body ?? "", at).data.id).toBe("j1");
    }

    clock.advance(60_000);
    jobs.jobs.set("t/j2", jobAwaitingWebhook({ id: "j2" }));
    await handler(event({ tenant: "t", jobId: "j2", attempt: 1 }));
    const after = sender.requests[1];
    const later = { nowMs: clock.now().getTime() };
    expect(after?.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(verifyWebhook(fresh, after?.headers ?? {}, after?.body ?? "", later).data.id).toBe("j2");
    expect(() => verifyWebhook(old, after?.headers ?? {}, after?.body ?? "", later)).toThrow(/no signature/);
  });

  it("schedules the next attempt as a delayed message after a failure, then gives up when the window is spent", async () => {
    const { handler, jobs, sender, queue, clock } = setup();
    sender.responses = [500, new Error("ECONNREFUSED"), 503, 502];
    await handler(event({ tenant: "t", jobId: "j1", attempt: 1 }));
    expect(queue.messages.at(-1)).toEqual({
      message: { tenant: "t", jobId: "j1", attempt: 2, notBefore: clock.now().getTime() + 5000 },
      delaySeconds: 5,
    });
    expect((await jobs.get("t", "j1"))?.webhook).toMatchObject({
      state: "retrying",
      nextAttemptAt: "2026-01-01T00:00:15.000Z",
    });

    clock.advance(5000);
    await handler(event(queue.messages.at(-1)?.message));
    expect(queue.messages.at(-1)?.delaySeconds).toBe(600);
    clock.advance(600_000);
    await handler(event(queue.messages.at(-1)?.message));
    expect(queue.messages.at(-1)).toMatchObject({ message: { attempt: 4 }, delaySeconds: 900 });
    clock.advance(3600_000);
    await handler(event(queue.messages.at(-1)?.message));
    // A further 3600 s would end past the 5400 s window that the first attempt opened.
    const job = await jobs.get("t", "j1");
    expect(job?.webhook?.state).toBe("failed");
    expect(job?.webhook?.attempts.map((a) => a.status ?? a.error)).toEqual([
      500,
      "the request failed: ECONNREFUSED",
      503,
      502,
    ]);
    expect(queue.messages).toHaveLength(3);
  });

  it("sends a message that is not due yet back to the queue for the rest of its wait", async () => {
    const { handler, sender, queue, clock } = setup();
    const notBefore = clock.now().getTime() + 3600_000;
    await handler(event({ tenant: "t", jobId: "j1", attempt: 3, notBefore }));
    expect(sender.requests).toHaveLength(0);
    expect(queue.messages).toEqual([
      { message: { tenant: "t", jobId: "j1", attempt: 3, notBefore }, delaySeconds: 900 },
    ]);
  });

  it("skips attempts already made and events already delivered, so duplicates do not POST twice", async () => {
    const { handler, sender } = setup();
    await handler(event({ tenant: "t", jobId: "j1", attempt: 1 }));
    await handler(event({ tenant: "t", jobId: "j1", attempt: 1 }, { tenant: "t", jobId: "j1", attempt: 2 }));
    expect(sender.requests).toHaveLength(1);
  });

  it("refuses a callbackUrl the policy no longer allows without calling it", async () => {
    const { handler, jobs, sender } = setup({ callbackUrl: "https://10.0.0.8/internal" });
    await handler(event({ tenant: "t", jobId: "j1", attempt: 1 }));
    expect(sender.requests).toHaveLength(0);
    const job = await jobs.get("t", "j1");
    expect(job?.webhook?.state).toBe("failed");
    expect(job?.webhook?.attempts[0]?.error).toMatch(/not a public address/);
  });

  it("reports the record for redelivery when Kiln's own store fails, and malformed messages too", async () => {
    const { handler, jobs } = setup();
    jobs.get = async () => {
      throw new Error("ThrottlingException");
    };
    const res = await handler({
      Records: [
        { messageId: "a", body: JSON.stringify({ tenant: "t", jobId: "j1", attempt: 1 }) },
        { messageId: "b", body: "{" },
      ] as unknown as SQSRecord[],
    });
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["a", "b"]);
  });
});

describe("webhook dispatcher: observability", () => {
  it("sends the job's correlation id as a header, logs it, and carries it into the retry", async () => {
    const { handler, sender, queue, logger, metrics } = setup({ correlationId: "order-4711" });
    sender.responses = [503];
    await handler(event({ tenant: "t", jobId: "j1", attempt: 1, correlationId: "order-4711" }));
    expect(sender.requests[0]?.headers["x-correlation-id"]).toBe("order-4711");
    expect(queue.messages).toEqual([
      expect.objectContaining({
        message: expect.objectContaining({ attempt: 2, correlationId: "order-4711" }),
      }),
    ]);
    expect(logger.lines.length).toBeGreaterThan(0);
    for (const line of logger.lines)
      expect(line.fields).toMatchObject({ tenant: "t", jobId: "j1", correlationId: "order-4711" });
    expect(metrics.webhooks).toEqual([{ outcome: "scheduled" }]);
  });

  it("sends no correlation header for a job that has none", async () => {
    const { handler, sender, metrics } = setup();
    await handler(event({ tenant: "t", jobId: "j1", attempt: 1 }));
    expect(sender.requests[0]?.headers).not.toHaveProperty("x-correlation-id");
    expect(metrics.webhooks).toEqual([{ outcome: "delivered" }]);
  });
});
