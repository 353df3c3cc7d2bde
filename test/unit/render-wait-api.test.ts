import { describe, expect, it } from "vitest";
import {
  FixedClock,
  MemoryJobStore,
  MemoryRenderQueue,
} from "../../functions/adapters/memory/memory-ports.js";
import { RENDER_WAIT, type WaitTimer, waitSchedule } from "../../functions/core/render-wait.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { apiEvent, KEY_A, memoryApiDeps, sequentialIds } from "./support/api.js";

const JOB = {
  template: { html: "<p>{{ n }}</p>" },
  data: { n: 1 },
  output: { format: "png", width: 300, height: 200 },
};
const FIRST_ID = "00000000-0000-4000-8000-000000000001";
const OUTPUT = { key: "outputs/a/abc.png", contentType: "image/png", bytes: 3, sha256: "abc" };

/**
 * The api handler on memory fakes, with a timer whose pauses stand for the worker: after pause
 * `finishAfterSleeps`, the first job ends as `outcome`.
 */
function setup(outcome?: { finishAfterSleeps: number; fail?: true }) {
  const clock = new FixedClock();
  const jobs = new MemoryJobStore();
  const queue = new MemoryRenderQueue();
  const sleeps: number[] = [];
  const finish = async () => {
    await jobs.startAttempt(
      "a",
      FIRST_ID,
      { owner: "w1", expiresAtMs: clock.now().getTime() + 60_000 },
      clock.now(),
    );
    if (outcome?.fail) {
      await jobs.markFailed(
        "a",
        FIRST_ID,
        { code: "template_error", message: "bad" },
        clock.now(),
        { owner: "w1" },
        false,
      );
    } else {
      await jobs.markSucceeded("a", FIRST_ID, "w1", OUTPUT, clock.now(), false);
    }
  };
  const timer: WaitTimer = {
    now: () => clock.now().getTime(),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
      if (sleeps.length === outcome?.finishAfterSleeps) await finish();
    },
  };
  const handler = makeHandler(memoryApiDeps({ jobs, queue, clock, timer, newId: sequentialIds() }));
  return { handler, jobs, queue, sleeps, finish };
}

function post(headers: Record<string, string>, body: unknown = JOB) {
  return apiEvent({
    httpMethod: "POST",
    path: "/v1/renders",
    headers: { "X-Api-Key": KEY_A, "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function get(id: string, headers: Record<string, string> = {}, query?: Record<string, string>) {
  return apiEvent({
    httpMethod: "GET",
    path: `/v1/renders/${id}`,
    headers: { "X-Api-Key": KEY_A, ...headers },
    queryStringParameters: query ?? null,
  });
}

const body = (r: { body: string }) => JSON.parse(r.body);

describe("POST /v1/renders with Prefer: wait", () => {
  it("answers 200 with the finished job, as GET shows it, once it ends within the wait", async () => {
    const { handler, sleeps } = setup({ finishAfterSleeps: 3 });
    const res = await handler(post({ Prefer: "wait=10" }));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      "preference-applied": "wait=10",
      location: `/v1/renders/${FIRST_ID}`,
    });
    expect(body(res)).toMatchObject({ id: FIRST_ID, status: "succeeded", output: { sha256: "abc" } });
    expect(body(res)).toEqual(body(await handler(get(FIRST_ID))));
    // It stopped reading at the first read after the job ended.
    expect(sleeps).toEqual(waitSchedule(10_000).slice(0, 3));
  });

  it("answers 202 after the wait when the job is not done, cutting a long wait to the cap", async () => {
    const { handler, sleeps } = setup();
    const res = await handler(post({ Prefer: "respond-async, wait=600" }));
    expect(res.statusCode).toBe(202);
    expect(res.headers).toMatchObject({
      "preference-applied": `wait=${RENDER_WAIT.maxSeconds}`,
      location: `/v1/renders/${FIRST_ID}`,
    });
    expect(body(res)).toEqual({ id: FIRST_ID, status: "queued" });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(RENDER_WAIT.maxSeconds * 1000);
  });

  it("400s a wait that is not whole seconds, naming Prefer, before queueing anything", async () => {
    const { handler, queue } = setup();
    for (const prefer of ["wait=-1", "wait=2.5", "wait=soon"]) {
      const res = await handler(post({ Prefer: prefer }));
      expect(res.statusCode, prefer).toBe(400);
      expect(body(res).error.fields).toEqual([
        { field: "Prefer", message: expect.stringContaining("whole number") },
      ]);
    }
    expect(queue.messages).toEqual([]);
  });

  it("answers as before without a wait, and sends no Preference-Applied", async () => {
    const { handler, sleeps } = setup({ finishAfterSleeps: 1 });
    const res = await handler(post({ Prefer: "return=minimal" }));
    expect(res.statusCode).toBe(202);
    expect(res.headers).not.toHaveProperty("preference-applied");
    expect(sleeps).toEqual([]);
  });

  it("honours the wait on an idempotent replay", async () => {
    const { handler, finish } = setup();
    const first = await handler(post({ "Idempotency-Key": "k1" }));
    expect(first.statusCode).toBe(202);
    await finish();
    const replay = await handler(post({ "Idempotency-Key": "k1", Prefer: "wait=5" }));
    expect(replay.statusCode).toBe(200);
    expect(replay.headers).toMatchObject({ "idempotent-replayed": "true", "preference-applied": "wait=5" });
    expect(body(replay)).toMatchObject({ id: FIRST_ID, status: "succeeded", output: { sha256: "abc" } });
  });
});

describe("Accept naming the output's type", () => {
  it("answers a succeeded job with 303 to the output's signed URL, on POST and on GET", async () => {
    const { handler } = setup({ finishAfterSleeps: 2 });
    const res = await handler(post({ Prefer: "wait=10", Accept: "image/png" }));
    expect(res.statusCode).toBe(303);
    expect(res.headers?.location).toMatch(/^https:\/\/cdn\.test\/outputs\/a\/abc\.png\?/);
    expect(res.headers?.["preference-applied"]).toBe("wait=10");
    const again = await handler(get(FIRST_ID, { Accept: "image/*" }));
    expect(again.statusCode).toBe(303);
    expect(again.headers?.location).toContain("outputs/a/abc.png");
  });

  it("answers a job not done within the wait with 202 and Location, never with a 2xx body to save as the image", async () => {
    const { handler } = setup();
    const res = await handler(post({ Prefer: "wait=1", Accept: "image/png" }));
    expect(res.statusCode).toBe(202);
    expect(res.headers?.location).toBe(`/v1/renders/${FIRST_ID}`);
    const polled = await handler(get(FIRST_ID, { Accept: "image/png" }));
    expect(polled.statusCode).toBe(202);
    expect(polled.headers?.location).toBe(`/v1/renders/${FIRST_ID}`);
  });

  it("answers a failed job with 422 carrying the job's failure in Kiln's error shape", async () => {
    const { handler } = setup({ finishAfterSleeps: 1, fail: true });
    const res = await handler(post({ Prefer: "wait=10", Accept: "image/png" }));
    expect(res.statusCode).toBe(422);
    expect(body(res)).toEqual({ error: { code: "template_error", message: "bad" } });
    expect(res.headers?.location).toBe(`/v1/renders/${FIRST_ID}`);
    // As JSON the same job is a 200 with its failure.
    const view = await handler(get(FIRST_ID, { Accept: "application/json" }));
    expect(view.statusCode).toBe(200);
    expect(body(view)).toMatchObject({ status: "failed", error: { code: "template_error" } });
  });

  it("406s an image type the job does not make, naming both, before queueing anything", async () => {
    const { handler, queue } = setup();
    const res = await handler(post({ Accept: "image/jpeg" }));
    expect(res.statusCode).toBe(406);
    expect(body(res).error.code).toBe("not_acceptable");
    expect(body(res).error.message).toContain("image/jpeg");
    expect(body(res).error.message).toContain("image/png");
    expect(queue.messages).toEqual([]);
  });

  it("406s a GET of a succeeded job whose output is another type", async () => {
    const { handler, finish } = setup();
    await handler(post({}));
    await finish();
    const res = await handler(get(FIRST_ID, { Accept: "application/pdf" }));
    expect(res.statusCode).toBe(406);
    expect(body(res).error.message).toMatch(/application\/pdf.*image\/png/);
  });
});

describe("GET /v1/renders/{id} with a wait", () => {
  it("long-polls with ?wait: answers as soon as the job has ended", async () => {
    const { handler, sleeps } = setup({ finishAfterSleeps: 4 });
    await handler(post({}));
    const res = await handler(get(FIRST_ID, {}, { wait: "20" }));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.["preference-applied"]).toBe("wait=20");
    expect(body(res)).toMatchObject({ status: "succeeded", output: { sha256: "abc" } });
    expect(sleeps).toHaveLength(4);
  });

  it("takes Prefer: wait too, and answers the job as it is when the wait is over", async () => {
    const { handler, sleeps } = setup();
    await handler(post({}));
    const res = await handler(get(FIRST_ID, { Prefer: "wait=2" }));
    expect(res.statusCode).toBe(200);
    expect(body(res)).toMatchObject({ id: FIRST_ID, status: "queued" });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(2_000);
  });

  it("400s a wait query parameter that is not whole seconds, naming it", async () => {
    const { handler } = setup();
    await handler(post({}));
    const res = await handler(get(FIRST_ID, {}, { wait: "x" }));
    expect(res.statusCode).toBe(400);
    expect(body(res).error.fields).toEqual([
      { field: "wait", message: expect.stringContaining("whole number") },
    ]);
  });

  it("404s an unknown job without waiting", async () => {
    const { handler, sleeps } = setup();
    const res = await handler(get("00000000-0000-4000-8000-000000000099", {}, { wait: "20" }));
    expect(res.statusCode).toBe(404);
    expect(sleeps).toEqual([]);
  });
});
