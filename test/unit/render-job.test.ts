import { describe, expect, it } from "vitest";
import {
  EchoRenderer,
  FixedClock,
  MemoryJobStore,
  MemoryObjectStore,
  MemoryPayloadStore,
  MemoryWebhookQueue,
} from "../../functions/adapters/memory/memory-ports.js";
import { MemoryTenantSettingsStore } from "../../functions/adapters/memory/memory-tenant-settings-store.js";
import { OUTPUTS } from "../../functions/core/constants.js";
import { KilnError, PermanentRenderError } from "../../functions/core/errors.js";
import type { Job } from "../../functions/core/job.js";
import type { OutputOptions, PageOptions } from "../../functions/core/output-options.js";
import { type Delivery, outputKey, type RenderJobDeps, renderJob } from "../../functions/core/render-job.js";
import { retryDelaySeconds } from "../../functions/core/retry-policy.js";

const LEASE_MS = 20_000;

function setup(overrides: Partial<Job> = {}) {
  const jobs = new MemoryJobStore();
  const renderer = new EchoRenderer();
  const outputs = new MemoryObjectStore();
  const payloads = new MemoryPayloadStore();
  const webhooks = new MemoryWebhookQueue();
  const clock = new FixedClock();
  let attempt = 0;
  const job: Job = {
    tenant: "t1",
    id: "j1",
    status: "queued",
    createdAt: clock.now().toISOString(),
    updatedAt: clock.now().toISOString(),
    attempts: 0,
    request: {
      template: { html: "<b>{{ who }}</b>" },
      data: { who: "Ada" },
      output: { format: "png", width: 10, height: 10, scale: 1 },
    },
    ...overrides,
  };
  jobs.jobs.set("t1/j1", job);
  const deps: RenderJobDeps = {
    jobs,
    renderer,
    outputs,
    payloads,
    webhooks,
    clock,
    lease: { leaseMs: LEASE_MS, renewEveryMs: 60_000 },
    retry: { baseSeconds: 4, maxSeconds: 60 },
    storeRetry: { attempts: 3, baseDelayMs: 1 },
    newAttemptId: () => `attempt-${++attempt}`,
    random: () => 1,
    // Waiting moves the test clock instead of real time.
    sleep: async (ms) => {
      clock.advance(ms);
    },
  };
  return { deps, jobs, renderer, outputs, payloads, webhooks, clock };
}

/** Deps whose waits last as long as asked, while the job's lease holder renews its lease halfway through. */
function whileLeaseHolderLives(deps: RenderJobDeps, jobs: MemoryJobStore, clock: FixedClock): RenderJobDeps {
  return {
    ...deps,
    sleep: async (ms) => {
      clock.advance(ms / 2);
      const job = await jobs.get("t1", "j1");
      if (job?.lease) {
        await jobs.renewLease(
          "t1",
          "j1",
          { ...job.lease, expiresAtMs: clock.now().getTime() + LEASE_MS },
          clock.now(),
        );
      }
      clock.advance(ms / 2);
    },
  };
}

const message = { tenant: "t1", jobId: "j1" };
const delivery = (receiveCount: number, maxReceiveCount = 4): Delivery => ({ receiveCount, maxReceiveCount });

describe("renderJob", () => {
  it("hydrates, renders, stores a content-addressed immutable output and succeeds, releasing the lease", async () => {
    const { deps, jobs, renderer, outputs } = setup();
    const result = await renderJob(deps, message, delivery(1));
    expect(result).toMatchObject({ outcome: "done", status: "succeeded", format: "png" });
    expect(renderer.calls[0]?.html).toBe("<b>Ada</b>");
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("succeeded");
    expect(job?.attempts).toBe(1);
    expect(job?.lease).toBeUndefined();
    const sha = job?.output?.sha256 ?? "";
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(job?.output?.key).toBe(outputKey("t1", sha, "png"));
    expect(outputs.objects.get(job?.output?.key ?? "")?.cacheControl).toBe(OUTPUTS.cacheControl);
    expect(job?.output?.bytes).toBe(new TextEncoder().encode("<b>Ada</b>").byteLength);
  });

  it("does not render a job that is already terminal", async () => {
    const { deps, renderer } = setup();
    await renderJob(deps, message, delivery(1));
    const again = await renderJob(deps, message, delivery(2));
    expect(again).toEqual({ outcome: "done", status: "skipped" });
    expect(renderer.calls).toHaveLength(1);
  });

  it("fails at once, without retry, on a permanent error", async () => {
    const { deps, jobs, renderer } = setup();
    renderer.failures.push(new PermanentRenderError("render_error", "page could not be laid out"));
    const result = await renderJob(deps, message, delivery(1));
    expect(result).toEqual({ outcome: "done", status: "failed", code: "render_error" });
    const job = await jobs.get("t1", "j1");
    expect(job?.error).toEqual({ code: "render_error", message: "page could not be laid out" });
    expect(job?.lease).toBeUndefined();
  });

  it("fails a template error as template_error", async () => {
    const { deps, jobs } = setup();
    const job = jobs.jobs.get("t1/j1") as Job;
    jobs.jobs.set("t1/j1", {
      ...job,
      request: { ...(job.request as NonNullable<Job["request"]>), template: { html: "{% for %}" } },
    });
    await renderJob(deps, message, delivery(1));
    expect((await jobs.get("t1", "j1"))?.error?.code).toBe("template_error");
  });

  it("on a transient error releases the lease, records the reason and asks for a retry after the backoff", async () => {
    const { deps, jobs, renderer } = setup();
    renderer.failures.push(new KilnError("transient", "browser_crash", "Target closed"));
    const result = await renderJob(deps, message, delivery(2));
    // random() = 1 → the whole backoff: 4 s × 2^(2−1).
    expect(result).toMatchObject({ outcome: "retry", retryAfterSeconds: 8 });
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("rendering");
    expect(job?.lease).toBeUndefined();
    expect(job?.lastError).toEqual({ code: "browser_crash", message: "Target closed" });

    // Released: the next delivery starts at once, without waiting for a lease to run out.
    const second = await renderJob(deps, message, delivery(3));
    expect(second).toMatchObject({ outcome: "done", status: "succeeded" });
    expect((await jobs.get("t1", "j1"))?.attempts).toBe(2);
  });

  it("records an error that is not Kiln's own as transient_error, whatever code it carries", async () => {
    const { deps, jobs, renderer } = setup();
    renderer.failures.push(Object.assign(new Error("socket hang up"), { code: "econnreset" }));
    expect(await renderJob(deps, message, delivery(1))).toMatchObject({ outcome: "retry" });
    expect((await jobs.get("t1", "j1"))?.lastError).toEqual({
      code: "transient_error",
      message: "socket hang up",
    });
  });

  it("on the delivery after the last attempt fails the job with the last reason, renders nothing, and dead-letters", async () => {
    const { deps, jobs, renderer } = setup();
    renderer.failures.push(new Error("browser crashed"), new Error("Navigation timeout"), new Error("again"));
    for (const n of [1, 2, 3]) expect((await renderJob(deps, message, delivery(n))).outcome).toBe("retry");
    const last = await renderJob(deps, message, delivery(4));
    expect(last).toMatchObject({ outcome: "dead-letter", code: "render_failed" });
    expect(renderer.calls).toHaveLength(3);
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("failed");
    expect(job?.error?.code).toBe("render_failed");
    expect(job?.error?.message).toBe("Rendering failed after 3 attempts: again");
  });

  it("fails the job in its last render attempt, so a last delivery that came while it rendered cannot leave it rendering", async () => {
    const { deps, jobs, renderer, clock } = setup();
    renderer.failures.push(new Error("one"), new Error("two"));
    for (const n of [1, 2]) expect((await renderJob(deps, message, delivery(n))).outcome).toBe("retry");

    // Attempt 3 renders; meanwhile its message shows again, has its last delivery, finds the lease
    // renewed by attempt 3 and is dead-lettered. Then attempt 3 fails.
    const renewing = whileLeaseHolderLives(deps, jobs, clock);
    renderer.render = async () => {
      expect((await renderJob(renewing, message, delivery(4))).outcome).toBe("dead-letter");
      expect((await jobs.get("t1", "j1"))?.status).toBe("rendering");
      throw new Error("three");
    };
    expect((await renderJob(deps, message, delivery(3))).outcome).toBe("retry");
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("failed");
    expect(job?.error).toEqual({
      code: "render_failed",
      message: "Rendering failed after 3 attempts: three",
    });
  });

  it("fails the job in an earlier attempt that outlived its message's final delivery, rather than release it to no one", async () => {
    const { deps, jobs, renderer, clock } = setup();
    renderer.failures.push(new Error("one"));
    expect((await renderJob(deps, message, delivery(1))).outcome).toBe("retry");

    // Attempt 2 renders for long (its message's heartbeat failed): the message shows again, finds the
    // job leased, and then has its final delivery, which finds the lease renewed and dead-letters it.
    const renewing = whileLeaseHolderLives(deps, jobs, clock);
    renderer.render = async () => {
      expect((await renderJob(renewing, message, delivery(3))).outcome).toBe("retry");
      expect((await renderJob(renewing, message, delivery(4))).outcome).toBe("dead-letter");
      expect((await jobs.get("t1", "j1"))?.status).toBe("rendering");
      throw new Error("two");
    };
    expect((await renderJob(deps, message, delivery(2))).outcome).toBe("retry");
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("failed");
    expect(job?.error).toEqual({ code: "render_failed", message: "Rendering failed after 2 attempts: two" });
    expect(job?.lease).toBeUndefined();
  });

  it("lets an attempt that outlived its message's final delivery still succeed", async () => {
    const { deps, jobs, renderer, clock } = setup({ callbackUrl: "https://hooks.example.com/k" });
    const echo = renderer.render.bind(renderer);
    // The lease holder is alive: the final delivery's wait sees it renewed.
    const renewing = whileLeaseHolderLives(deps, jobs, clock);
    renderer.render = async (html, output) => {
      expect((await renderJob(renewing, message, delivery(4))).outcome).toBe("dead-letter");
      return echo(html, output);
    };
    expect(await renderJob(deps, message, delivery(1))).toMatchObject({
      outcome: "done",
      status: "succeeded",
    });
    expect((await jobs.get("t1", "j1"))?.status).toBe("succeeded");
  });

  it("takes over a job whose worker died only after its lease has expired", async () => {
    const { deps, jobs, renderer, clock } = setup();
    // Attempt 1 started and its worker died: the lease was never released.
    await jobs.startAttempt(
      "t1",
      "j1",
      { owner: "dead-worker", expiresAtMs: clock.now().getTime() + LEASE_MS },
      clock.now(),
    );

    clock.advance(LEASE_MS - 5_000);
    const early = await renderJob(deps, message, delivery(2));
    expect(early).toMatchObject({ outcome: "retry", retryAfterSeconds: 5 });
    expect(renderer.calls).toHaveLength(0);

    clock.advance(5_000);
    const takeover = await renderJob(deps, message, delivery(3));
    expect(takeover).toMatchObject({ outcome: "done", status: "succeeded" });
    const job = await jobs.get("t1", "j1");
    expect(job?.attempts).toBe(2);
  });

  it("fails a job whose last attempt's worker died as worker_lost, waiting out the dead attempt's lease", async () => {
    const { deps, jobs, clock } = setup({ lastError: { code: "render_timeout", message: "too slow" } });
    const startedAt = clock.now().getTime();
    await jobs.startAttempt("t1", "j1", { owner: "dead", expiresAtMs: startedAt + LEASE_MS }, clock.now());

    // The last delivery comes while the dead attempt's lease still runs: it is its job's last chance.
    const settled = await renderJob(deps, message, delivery(4));
    expect(settled).toMatchObject({ outcome: "dead-letter", code: "worker_lost" });
    expect(clock.now().getTime()).toBeGreaterThan(startedAt + LEASE_MS);
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("failed");
    expect(job?.error?.message).toContain("stopped during attempt 1");
    expect(job?.error?.message).toContain("render_timeout: too slow");
  });

  it("leaves a job to the attempt that keeps renewing its lease when a duplicate message has its last delivery", async () => {
    const { deps, jobs, clock } = setup();
    await jobs.startAttempt(
      "t1",
      "j1",
      { owner: "alive", expiresAtMs: clock.now().getTime() + LEASE_MS },
      clock.now(),
    );
    const renewing: RenderJobDeps = {
      ...deps,
      sleep: async (ms) => {
        clock.advance(ms / 2);
        await jobs.renewLease(
          "t1",
          "j1",
          { owner: "alive", expiresAtMs: clock.now().getTime() + LEASE_MS },
          clock.now(),
        );
        clock.advance(ms / 2);
      },
    };

    const settled = await renderJob(renewing, message, delivery(4));
    expect(settled.outcome).toBe("dead-letter");
    expect((await jobs.get("t1", "j1"))?.status).toBe("rendering");
  });

  it("lets only the lease holder write: a worker that lost its lease while rendering writes no output", async () => {
    const { deps, jobs, renderer, outputs, clock } = setup();
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inRender = new Promise<void>((r) => {
      entered = r;
    });
    const echo = renderer.render.bind(renderer);
    let calls = 0;
    renderer.render = async (html, output) => {
      calls += 1;
      if (calls === 1) {
        entered();
        await held;
        return new TextEncoder().encode(`${html} (slow, different)`);
      }
      return echo(html, output);
    };

    const slow = renderJob(deps, message, delivery(1));
    await inRender;
    // The slow worker's lease lapses (its heartbeat could not reach the store); another takes over.
    clock.advance(LEASE_MS + 1);
    const fast = await renderJob(deps, message, delivery(2));
    expect(fast).toMatchObject({ outcome: "done", status: "succeeded" });
    release();
    const late = await slow;
    expect(late.outcome).toBe("retry");

    expect(outputs.objects.size).toBe(1);
    const job = await jobs.get("t1", "j1");
    expect(outputs.objects.has(job?.output?.key ?? "")).toBe(true);
  });

  it("renews the lease while a long render runs, so no other delivery can take the job over", async () => {
    const { deps, jobs, renderer, clock } = setup();
    const renewals: number[] = [];
    const renew = jobs.renewLease.bind(jobs);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let beats!: () => void;
    const twoBeats = new Promise<void>((r) => {
      beats = r;
    });
    const echo = renderer.render.bind(renderer);
    renderer.render = async (html, output) => {
      await held;
      return echo(html, output);
    };
    const fastBeat = { ...deps, lease: { leaseMs: LEASE_MS, renewEveryMs: 5 } };
    // Each beat happens 10 s of clock time after the previous one.
    jobs.renewLease = async (tenant, id, lease, at) => {
      renewals.push(lease.expiresAtMs);
      clock.advance(10_000);
      if (renewals.length === 2) beats();
      return renew(tenant, id, lease, at);
    };

    const running = renderJob(fastBeat, message, delivery(1));
    await twoBeats;
    // 20 s of clock time have passed, as long as the first lease: without renewals it would be over.
    const intruder = await renderJob(deps, message, delivery(2));
    expect(intruder.outcome).toBe("retry");
    release();
    expect(await running).toMatchObject({ outcome: "done", status: "succeeded" });
    expect(renewals.length).toBeGreaterThanOrEqual(2);
  });

  it("recognises its own write when a store call applied but reported a failure, and renders once", async () => {
    const { deps, jobs, renderer } = setup();
    const mark = jobs.markSucceeded.bind(jobs);
    let first = true;
    jobs.markSucceeded = async (...args) => {
      const result = await mark(...args);
      if (first) {
        first = false;
        throw new Error("socket hang up");
      }
      return result;
    };
    const result = await renderJob(deps, message, delivery(1));
    expect(result).toMatchObject({ outcome: "done", status: "succeeded" });
    expect(renderer.calls).toHaveLength(1);
  });

  it("reads the request the store keeps apart from the job record, and fails request_missing without one", async () => {
    const { deps, jobs, renderer } = setup();
    const job = jobs.jobs.get("t1/j1") as Job;
    jobs.jobs.clear();
    expect(await jobs.create(job)).toBe("created");
    expect(jobs.jobs.get("t1/j1")?.request).toBeUndefined();
    expect(await renderJob(deps, message, delivery(1))).toMatchObject({ status: "succeeded" });
    expect(renderer.calls[0]?.html).toBe("<b>Ada</b>");

    const none = setup({ request: undefined });
    expect(await renderJob(none.deps, message, delivery(1))).toEqual({
      outcome: "done",
      status: "failed",
      code: "request_missing",
    });
  });

  it("reads the request and the tenant's settings in one call where the job store can, and renders with those settings", async () => {
    const { deps, jobs, clock } = setup();
    const job = jobs.jobs.get("t1/j1") as Job;
    jobs.jobs.clear();
    await jobs.create(job);
    const settings = new MemoryTenantSettingsStore();
    await settings.put("t1", { egress: { allowHosts: ["cdn.t1.example"] } }, clock.now());
    let separateSettingsReads = 0;
    let readsTogether = 0;
    const pages: Array<PageOptions | undefined> = [];
    const result = await renderJob(
      {
        ...deps,
        // The memory store's methods, plus the combined read a DynamoDB job store offers.
        jobs: Object.assign(Object.create(jobs) as MemoryJobStore, {
          getRequestAndSettings: async (tenant: string, id: string) => {
            readsTogether += 1;
            return { request: await jobs.getRequest(tenant, id), settings: await settings.get(tenant) };
          },
        }),
        settings: {
          get: (tenant: string) => {
            separateSettingsReads += 1;
            return settings.get(tenant);
          },
          put: (tenant, value, now) => settings.put(tenant, value, now),
        },
        renderer: {
          render: async (html: string, _output: OutputOptions, page?: PageOptions) => {
            pages.push(page);
            return new TextEncoder().encode(html);
          },
          capture: () => Promise.reject(new Error("this job renders a template")),
        },
      },
      message,
      delivery(1),
    );
    expect(result).toMatchObject({ outcome: "done", status: "succeeded" });
    expect([readsTogether, separateSettingsReads]).toEqual([1, 0]);
    expect(pages[0]?.allowHosts).toEqual(["cdn.t1.example"]);
  });

  it("reads a large request from the payload store, and fails request_missing when it is gone", async () => {
    const { deps, jobs, payloads, renderer } = setup({
      request: undefined,
      payloadKey: "requests/t1/j1.json",
    });
    payloads.payloads.set(
      "requests/t1/j1.json",
      JSON.stringify({
        template: { html: "<i>{{ n }}</i>" },
        data: { n: 7 },
        output: { format: "png", width: 10, height: 10, scale: 1 },
      }),
    );
    expect(await renderJob(deps, message, delivery(1))).toMatchObject({ status: "succeeded" });
    expect(renderer.calls[0]?.html).toBe("<i>7</i>");

    const other = setup({ request: undefined, payloadKey: "requests/t1/gone.json" });
    expect(await renderJob(other.deps, message, delivery(1))).toEqual({
      outcome: "done",
      status: "failed",
      code: "request_missing",
    });
    expect((await other.jobs.get("t1", "j1"))?.status).toBe("failed");
    expect(jobs.jobs.size).toBe(1);
  });

  it("queues the webhook of a job with a callbackUrl when it ends, and again on redelivery if that failed", async () => {
    const { deps, jobs, webhooks } = setup({ callbackUrl: "https://hooks.example.com/k" });
    const enqueue = webhooks.enqueue.bind(webhooks);
    webhooks.enqueue = async () => {
      throw new Error("queue unavailable");
    };
    const first = await renderJob(deps, message, delivery(1));
    expect(first.outcome).toBe("retry");
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("succeeded");
    expect(job?.webhook).toEqual({ state: "pending", attempts: [] });

    webhooks.enqueue = enqueue;
    expect(await renderJob(deps, message, delivery(2))).toEqual({ outcome: "done", status: "skipped" });
    expect(webhooks.messages).toEqual([
      { message: { tenant: "t1", jobId: "j1", attempt: 1 }, delaySeconds: 0 },
    ]);
  });

  it("asks for a retry while the job record does not exist yet, and dead-letters the message on its last delivery", async () => {
    const { deps, jobs } = setup();
    jobs.jobs.clear();
    expect((await renderJob(deps, message, delivery(1))).outcome).toBe("retry");
    expect(await renderJob(deps, message, delivery(4))).toMatchObject({ outcome: "dead-letter" });
  });
});

describe("retryDelaySeconds", () => {
  it("doubles per delivery up to the cap, with half of each wait random", () => {
    const policy = { baseSeconds: 5, maxSeconds: 60 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelaySeconds(policy, n, () => 1))).toEqual([5, 10, 20, 40, 60]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelaySeconds(policy, n, () => 0))).toEqual([3, 5, 10, 20, 30]);
  });
});
