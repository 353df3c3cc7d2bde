import type { APIGatewayProxyEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../functions/adapters/json-logger.js";
import {
  FakeUrlSigner,
  FixedClock,
  MemoryApiKeyStore,
  MemoryJobStore,
  MemoryRenderQueue,
} from "../../functions/adapters/memory/memory-ports.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";

const KEY_A = "key-of-tenant-a";
const KEY_B = "key-of-tenant-b";
const JOB = {
  template: { html: "<p>{{ n }}</p>" },
  data: { n: 1 },
  output: { format: "png", width: 300, height: 200 },
};

function setup() {
  const clock = new FixedClock();
  const jobs = new MemoryJobStore();
  const queue = new MemoryRenderQueue();
  let n = 0;
  const handler = makeHandler({
    jobs,
    queue,
    apiKeys: new MemoryApiKeyStore({ a: KEY_A, b: KEY_B }),
    signer: new FakeUrlSigner(clock),
    clock,
    logger: silentLogger,
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`,
  });
  return { handler, jobs, queue, clock };
}

function event(
  method: string,
  path: string,
  options: { key?: string; body?: string; headers?: Record<string, string> } = {},
) {
  return {
    httpMethod: method,
    path,
    headers: {
      ...(options.key ? { "X-Api-Key": options.key } : {}),
      "Content-Type": "application/json",
      ...options.headers,
    },
    body: options.body ?? null,
    isBase64Encoded: false,
    requestContext: { requestId: "req-1" },
  } as unknown as APIGatewayProxyEvent;
}

const body = (r: { body: string }) => JSON.parse(r.body);

describe("api handler", () => {
  it("queues a render: 202, id, status, Location, a queue message for the tenant", async () => {
    const { handler, queue, jobs } = setup();
    const res = await handler(event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify(JOB) }));
    expect(res.statusCode).toBe(202);
    const { id, status } = body(res);
    expect(status).toBe("queued");
    expect(res.headers?.location).toBe(`/v1/renders/${id}`);
    expect(queue.messages).toEqual([{ tenant: "a", jobId: id }]);
    expect((await jobs.get("a", id))?.request.output).toMatchObject({
      format: "png",
      width: 300,
      height: 200,
      scale: 1,
    });
  });

  it("shows a succeeded job with a signed output URL, and hides it from other tenants", async () => {
    const { handler, jobs, clock } = setup();
    const { id } = body(
      await handler(event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify(JOB) })),
    );
    await jobs.startAttempt("a", id, clock.now());
    await jobs.markSucceeded(
      "a",
      id,
      { key: "outputs/a/abc.png", contentType: "image/png", bytes: 3, sha256: "abc" },
      clock.now(),
    );

    const mine = await handler(event("GET", `/v1/renders/${id}`, { key: KEY_A }));
    expect(mine.statusCode).toBe(200);
    const view = body(mine);
    expect(view).toMatchObject({
      id,
      status: "succeeded",
      attempts: 1,
      output: { contentType: "image/png", bytes: 3, sha256: "abc" },
    });
    expect(view.output.url).toContain("outputs/a/abc.png");
    expect(view.output.expiresAt).toBe("2026-01-01T00:05:00.000Z");
    expect(view).not.toHaveProperty("request");

    const theirs = await handler(event("GET", `/v1/renders/${id}`, { key: KEY_B }));
    expect(theirs.statusCode).toBe(404);
  });

  it("401s a missing or wrong key before looking at the body", async () => {
    const { handler } = setup();
    expect((await handler(event("POST", "/v1/renders", { body: "{" }))).statusCode).toBe(401);
    const wrong = await handler(event("GET", "/v1/renders/x", { key: "nope" }));
    expect(wrong.statusCode).toBe(401);
    expect(body(wrong).error.message).toMatch(/x-api-key/);
  });

  it("400s bad JSON, unknown fields and wrong types, naming the field", async () => {
    const { handler } = setup();
    const bad = await handler(event("POST", "/v1/renders", { key: KEY_A, body: "{not json" }));
    expect(bad.statusCode).toBe(400);
    expect(body(bad).error.message).toMatch(/not valid JSON/);

    const unknown = await handler(
      event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify({ ...JOB, extra: 1 }) }),
    );
    expect(unknown.statusCode).toBe(400);
    expect(body(unknown).error.fields).toEqual([{ field: "extra", message: "unknown field" }]);

    const typed = await handler(
      event("POST", "/v1/renders", {
        key: KEY_A,
        body: JSON.stringify({ ...JOB, output: { format: "png", height: "tall" } }),
      }),
    );
    expect(body(typed).error.fields.map((f: { field: string }) => f.field)).toEqual(["output.height"]);
    expect(body(typed).error.message).toContain("output.height");

    const empty = await handler(event("POST", "/v1/renders", { key: KEY_A, body: "" }));
    expect(empty.statusCode).toBe(400);
  });

  it("413s an oversize body and 415s a non-JSON content type", async () => {
    const { handler } = setup();
    const huge = JSON.stringify({ ...JOB, data: { blob: "x".repeat(300 * 1024) } });
    expect((await handler(event("POST", "/v1/renders", { key: KEY_A, body: huge }))).statusCode).toBe(413);
    const form = await handler(
      event("POST", "/v1/renders", {
        key: KEY_A,
        body: "a=1",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      }),
    );
    expect(form.statusCode).toBe(415);
  });

  it("404s unknown routes and malformed ids, 405s wrong methods", async () => {
    const { handler } = setup();
    expect((await handler(event("GET", "/v2/things", { key: KEY_A }))).statusCode).toBe(404);
    expect((await handler(event("GET", "/v1/renders/../../etc", { key: KEY_A }))).statusCode).toBe(404);
    expect((await handler(event("DELETE", "/v1/renders", { key: KEY_A }))).statusCode).toBe(405);
  });

  it("fails the job and answers 503 when the queue is down, so nothing waits forever", async () => {
    const { handler, queue, jobs } = setup();
    queue.failNext = true;
    const res = await handler(event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify(JOB) }));
    expect(res.statusCode).toBe(503);
    const [stored] = [...jobs.jobs.values()];
    expect(stored?.status).toBe("failed");
    expect(stored?.error?.code).toBe("enqueue_failed");
  });

  it("answers 500 without internals when a store breaks", async () => {
    const { handler, jobs } = setup();
    jobs.get = async () => {
      throw new Error("secret-table-name exploded");
    };
    const res = await handler(
      event("GET", "/v1/renders/00000000-0000-4000-8000-000000000001", { key: KEY_A }),
    );
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain("secret-table-name");
    expect(body(res).error.message).toContain("req-1");
  });
});
