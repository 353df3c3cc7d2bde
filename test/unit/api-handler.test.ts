import { describe, expect, it } from "vitest";
import {
  FixedClock,
  MemoryIdempotencyStore,
  MemoryJobStore,
  MemoryPayloadStore,
  MemoryRenderQueue,
  MemoryWebhookSecretStore,
  RecordingLogger,
} from "../../functions/adapters/memory/memory-ports.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { INVALID_API_KEY, internalError, NO_SUCH_ROUTE } from "../../functions/handlers/api/http-errors.js";
import { apiEvent, KEY_A, KEY_B, memoryApiDeps, sequentialIds } from "./support/api.js";

const JOB = {
  template: { html: "<p>{{ n }}</p>" },
  data: { n: 1 },
  output: { format: "png", width: 300, height: 200 },
};

function setup() {
  const clock = new FixedClock();
  const jobs = new MemoryJobStore();
  const queue = new MemoryRenderQueue();
  const payloads = new MemoryPayloadStore();
  const idempotency = new MemoryIdempotencyStore();
  const webhookSecrets = new MemoryWebhookSecretStore();
  const handler = makeHandler(
    memoryApiDeps({
      jobs,
      queue,
      payloads,
      idempotency,
      webhookSecrets,
      clock,
      callbackPolicy: { schemes: ["https"] },
      newId: sequentialIds(),
    }),
  );
  return { handler, jobs, queue, clock, payloads, idempotency, webhookSecrets };
}

function event(
  method: string,
  path: string,
  options: { key?: string; body?: string; headers?: Record<string, string> } = {},
) {
  return apiEvent({
    httpMethod: method,
    path,
    headers: {
      ...(options.key ? { "X-Api-Key": options.key } : {}),
      "Content-Type": "application/json",
      ...options.headers,
    },
    body: options.body ?? null,
  });
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
    expect(queue.messages).toEqual([{ tenant: "a", jobId: id, correlationId: "req-1" }]);
    expect((await jobs.getRequest("a", id))?.output).toMatchObject({
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
    await jobs.startAttempt("a", id, { owner: "w1", expiresAtMs: clock.now().getTime() + 1000 }, clock.now());
    await jobs.markSucceeded(
      "a",
      id,
      "w1",
      { key: "outputs/a/abc.png", contentType: "image/png", bytes: 3, sha256: "abc" },
      clock.now(),
      false,
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
    // The same answer API Gateway gives for a key it does not know.
    expect(body(wrong)).toEqual({ error: INVALID_API_KEY });
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

  it("413s a body over 3 MiB, naming the limit, and 415s a non-JSON content type", async () => {
    const { handler } = setup();
    const huge = JSON.stringify({ ...JOB, data: { blob: "x".repeat(3 * 1024 * 1024) } });
    const tooLarge = await handler(event("POST", "/v1/renders", { key: KEY_A, body: huge }));
    expect(tooLarge.statusCode).toBe(413);
    expect(body(tooLarge).error).toMatchObject({ code: "payload_too_large" });
    expect(body(tooLarge).error.message).toContain("3145728 bytes");
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
    const unknown = await handler(event("GET", "/v2/things", { key: KEY_A }));
    expect(unknown.statusCode).toBe(404);
    // The same answer API Gateway gives for a path it has no resource for.
    expect(body(unknown)).toEqual({ error: NO_SUCH_ROUTE });
    expect((await handler(event("GET", "/v1/renders/../../etc", { key: KEY_A }))).statusCode).toBe(404);
    // A long or malformed id is never echoed, on any route or method; a well-formed one is.
    const long = "x".repeat(5000);
    for (const [method, path] of [
      ["GET", `/v1/renders/${long}`],
      ["GET", `/v1/batches/${long}`],
      ["GET", `/v1/batches/${long}/outputs`],
      ["GET", `/v1/templates/${long}`],
      ["GET", `/v1/templates/${long}/versions/1`],
      ["DELETE", `/v1/renders/${long}`],
    ] as const) {
      const res = await handler(event(method, path, { key: KEY_A }));
      expect(res.statusCode, `${method} ${path.slice(0, 20)}`).toBeGreaterThanOrEqual(404);
      expect(res.body.length, `${method} ${path.slice(0, 20)}`).toBeLessThan(300);
      expect(res.body).not.toContain("xxxxxxxx");
    }
    const wellFormed = "00000000-0000-4000-8000-000000000099";
    expect(body(await handler(event("GET", `/v1/renders/${wellFormed}`, { key: KEY_A }))).error.message).toBe(
      `No render job ${wellFormed}.`,
    );
    const wrongMethod = await handler(event("DELETE", "/v1/renders", { key: KEY_A }));
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers?.allow).toBe("POST");
    expect(body(wrongMethod).error.code).toBe("method_not_allowed");
    expect((await handler(event("DELETE", "/v1/settings", { key: KEY_A }))).headers?.allow).toBe("GET, PUT");
    // A wrong method says nothing to a caller without a key.
    expect((await handler(event("DELETE", "/v1/renders"))).statusCode).toBe(401);
  });

  it("answers 503 and creates no job when the queue is down; the retry with the same key queues it once", async () => {
    const { handler, queue, jobs } = setup();
    queue.failNext = true;
    const post = () =>
      handler(
        event("POST", "/v1/renders", {
          key: KEY_A,
          body: JSON.stringify(JOB),
          headers: { "Idempotency-Key": "order-7" },
        }),
      );
    const res = await post();
    expect(res.statusCode).toBe(503);
    expect(res.headers?.["retry-after"]).toBe("1");
    expect(jobs.jobs.size).toBe(0);

    const retried = await post();
    expect(retried.statusCode).toBe(202);
    const { id } = body(retried);
    expect(queue.messages).toEqual([{ tenant: "a", jobId: id, correlationId: "req-1" }]);
    expect([...jobs.jobs.values()].map((j) => j.id)).toEqual([id]);
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
    // The words of API Gateway's own 5xx.
    expect(body(res)).toEqual({ error: internalError("req-1") });
  });

  describe("Idempotency-Key", () => {
    const post = (
      h: ReturnType<typeof setup>["handler"],
      idempotencyKey: string,
      job: unknown = JOB,
      apiKey = KEY_A,
    ) =>
      h(
        event("POST", "/v1/renders", {
          key: apiKey,
          body: JSON.stringify(job),
          headers: { "Idempotency-Key": idempotencyKey },
        }),
      );

    it("answers a repeat of the same body with the same job (200, replayed) and queues it once", async () => {
      const { handler, queue, jobs } = setup();
      const first = await post(handler, "k-1");
      expect(first.statusCode).toBe(202);
      // Whitespace and the order of known fields do not make a different body.
      const reordered = { output: JOB.output, data: JOB.data, template: JOB.template };
      const again = await post(handler, "k-1", reordered);
      expect(again.statusCode).toBe(200);
      expect(again.headers?.["idempotent-replayed"]).toBe("true");
      expect(body(again).id).toBe(body(first).id);
      expect(again.headers?.location).toBe(`/v1/renders/${body(first).id}`);
      expect(queue.messages).toHaveLength(1);
      expect(jobs.jobs.size).toBe(1);
    });

    it("409s the same key with a different body, naming the key and the job", async () => {
      const { handler, jobs } = setup();
      const first = await post(handler, "invoice-42");
      const other = await post(handler, "invoice-42", { ...JOB, data: { n: 2 } });
      expect(other.statusCode).toBe(409);
      expect(body(other).error.code).toBe("idempotency_key_reused");
      expect(body(other).error.message).toContain('Idempotency-Key "invoice-42"');
      expect(body(other).error.message).toContain(body(first).id);
      expect(jobs.jobs.size).toBe(1);
    });

    it("keeps keys per tenant and lets them expire after 24 hours", async () => {
      const { handler, clock } = setup();
      const a = body(await post(handler, "shared"));
      const b = body(await post(handler, "shared", JOB, KEY_B));
      expect(b.id).not.toBe(a.id);

      clock.advance(24 * 3600 * 1000 - 1000);
      expect(body(await post(handler, "shared")).id).toBe(a.id);
      clock.advance(2000);
      const later = await post(handler, "shared", { ...JOB, data: { n: 9 } });
      expect(later.statusCode).toBe(202);
      expect(body(later).id).not.toBe(a.id);
    });

    it("finishes a submission that died after claiming the key: the retry creates the job with the claimed id", async () => {
      const { handler, jobs, queue } = setup();
      const create = jobs.create.bind(jobs);
      jobs.create = async () => {
        throw new Error("connection reset");
      };
      expect((await post(handler, "k-crash")).statusCode).toBe(503);
      expect(queue.messages).toHaveLength(1);
      jobs.create = create;
      const retried = await post(handler, "k-crash");
      expect(retried.statusCode).toBe(202);
      const { id } = body(retried);
      expect(id).toBe(queue.messages[0]?.jobId);
      expect((await jobs.get("a", id))?.status).toBe("queued");
      // The second message is a duplicate of the first; the worker's lease makes it harmless.
      expect(queue.messages.map((m) => m.jobId)).toEqual([id, id]);
    });

    it("400s a key that is empty, too long or not printable ASCII", async () => {
      const { handler } = setup();
      for (const bad of [" ", "x".repeat(256), "naïve"]) {
        const res = await post(handler, bad);
        expect(res.statusCode, bad).toBe(400);
        expect(body(res).error.fields).toEqual([{ field: "Idempotency-Key", message: expect.any(String) }]);
      }
    });
  });

  it("stores a request too large for the job record in the payload store, by reference", async () => {
    const { handler, jobs, payloads } = setup();
    const large = { ...JOB, data: { blob: "y".repeat(200 * 1024) } };
    const res = await handler(event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify(large) }));
    expect(res.statusCode).toBe(202);
    const job = await jobs.get("a", body(res).id);
    expect(await jobs.getRequest("a", body(res).id)).toBeUndefined();
    expect(job?.payloadKey).toBe(`requests/a/${body(res).id}.json`);
    expect(JSON.parse(payloads.payloads.get(job?.payloadKey ?? "") ?? "{}").data.blob).toHaveLength(
      200 * 1024,
    );

    const small = await handler(event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify(JOB) }));
    expect((await jobs.get("a", body(small).id))?.payloadKey).toBeUndefined();
    expect(payloads.payloads.size).toBe(1);
  });

  it("accepts a callbackUrl the policy allows, refuses others naming the field, and shows the webhook in GET", async () => {
    const { handler } = setup();
    for (const [url, reason] of [
      ["http://example.com/hook", "must use https"],
      ["https://127.0.0.1/hook", "not a public address"],
      ["https://10.1.2.3/hook", "not a public address"],
      ["https://user:pw@example.com/hook", "credentials"],
    ]) {
      const res = await handler(
        event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify({ ...JOB, callbackUrl: url }) }),
      );
      expect(res.statusCode, url).toBe(400);
      expect(body(res).error.fields[0].field).toBe("callbackUrl");
      expect(body(res).error.fields[0].message).toContain(reason);
    }
    const ok = await handler(
      event("POST", "/v1/renders", {
        key: KEY_A,
        body: JSON.stringify({ ...JOB, callbackUrl: "https://hooks.example.com/kiln" }),
      }),
    );
    expect(ok.statusCode).toBe(202);
    const view = body(await handler(event("GET", `/v1/renders/${body(ok).id}`, { key: KEY_A })));
    expect(view.webhook).toEqual({ url: "https://hooks.example.com/kiln", state: "waiting", attempts: [] });
  });

  it("hands each tenant its own webhook secret, the same one every time", async () => {
    const { handler } = setup();
    const a1 = body(await handler(event("GET", "/v1/webhooks/secret", { key: KEY_A })));
    const a2 = body(await handler(event("GET", "/v1/webhooks/secret", { key: KEY_A })));
    const b1 = body(await handler(event("GET", "/v1/webhooks/secret", { key: KEY_B })));
    expect(a1.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(a2.secret).toBe(a1.secret);
    expect(b1.secret).not.toBe(a1.secret);
    expect((await handler(event("GET", "/v1/webhooks/secret", {}))).statusCode).toBe(401);
  });

  it("rotates a tenant's webhook secret: a new one, the old one named as expiring after the overlap", async () => {
    const { handler, clock } = setup();
    const get = async () => body(await handler(event("GET", "/v1/webhooks/secret", { key: KEY_A })));
    const before = await get();
    const rotate = await handler(event("POST", "/v1/webhooks/secret/rotate", { key: KEY_A }));
    expect(rotate.statusCode).toBe(200);
    const rotated = body(rotate);
    expect(rotated).toEqual({
      secret: expect.stringMatching(/^whsec_/),
      scheme: "standard-webhooks-v1",
      previousSecretExpiresAt: new Date(clock.now().getTime() + 24 * 3600_000).toISOString(),
    });
    expect(rotated.secret).not.toBe(before.secret);
    expect(await get()).toEqual(rotated);
    // Tenant b's secret is its own.
    const b = body(await handler(event("GET", "/v1/webhooks/secret", { key: KEY_B })));
    expect(b.previousSecretExpiresAt).toBeUndefined();
    clock.advance(24 * 3600_000);
    expect(await get()).toEqual({ secret: rotated.secret, scheme: "standard-webhooks-v1" });
    expect((await handler(event("POST", "/v1/webhooks/secret/rotate", {}))).statusCode).toBe(401);
  });
});

describe("api handler: correlation id", () => {
  const submit = (headers: Record<string, string> = {}) =>
    event("POST", "/v1/renders", { key: KEY_A, body: JSON.stringify(JOB), headers });

  it("takes the caller's x-correlation-id, echoes it, keeps it on the job and in the render message", async () => {
    const { handler, jobs, queue } = setup();
    const res = await handler(submit({ "X-Correlation-Id": "order-4711:retry.2" }));
    expect(res.statusCode).toBe(202);
    expect(res.headers?.["x-correlation-id"]).toBe("order-4711:retry.2");
    const { id } = body(res);
    expect((await jobs.get("a", id))?.correlationId).toBe("order-4711:retry.2");
    expect(queue.messages).toEqual([{ tenant: "a", jobId: id, correlationId: "order-4711:retry.2" }]);
    const view = body(await handler(event("GET", `/v1/renders/${id}`, { key: KEY_A })));
    expect(view.correlationId).toBe("order-4711:retry.2");
  });

  it("uses the request id instead of an id that is too long or has unsafe characters", async () => {
    const { handler, jobs } = setup();
    for (const bad of ["a".repeat(129), "has space", "semi;colon", "<script>", "ünïcode", ""]) {
      const res = await handler(submit({ "x-correlation-id": bad }));
      expect(res.headers?.["x-correlation-id"]).toBe("req-1");
      expect((await jobs.get("a", body(res).id))?.correlationId).toBe("req-1");
    }
  });

  it("echoes the correlation id on errors too, and puts it on the request's log lines", async () => {
    const logger = new RecordingLogger();
    const { handler: plain } = setup();
    const unauthorized = await plain(
      event("POST", "/v1/renders", { body: "{}", headers: { "x-correlation-id": "c-401" } }),
    );
    expect(unauthorized.statusCode).toBe(401);
    expect(unauthorized.headers?.["x-correlation-id"]).toBe("c-401");

    const handler = makeHandler({ ...setupDeps(), logger });
    const res = await handler(submit({ "x-correlation-id": "c-202" }));
    expect(res.statusCode).toBe(202);
    const queued = logger.lines.find((l) => l.message === "job queued");
    expect(queued?.fields).toMatchObject({ correlationId: "c-202", requestId: "req-1", jobId: body(res).id });
  });
});

function setupDeps() {
  return memoryApiDeps({ callbackPolicy: { schemes: ["https"] } });
}
