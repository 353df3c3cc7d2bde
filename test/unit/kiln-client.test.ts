import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  KilnApiError,
  KilnClient,
  KilnConnectionError,
  KilnWaitTimeoutError,
  parseRetryAfter,
  type RenderSubmissionInput,
  type RetryEvent,
} from "../../functions/client/kiln-client.js";

const JOB: RenderSubmissionInput = { template: { html: "<p>hi</p>" }, output: { format: "png" } };
const JOB_ID = "00000000-0000-4000-8000-000000000001";

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

type Reply = (req: Seen, res: ServerResponse, n: number) => void;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A tiny API on 127.0.0.1 that answers request n with replies[n] (the last one repeats). */
async function api(...replies: Reply[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const entry = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    seen.push(entry);
    const reply = replies[Math.min(seen.length - 1, replies.length - 1)] as Reply;
    reply(entry, res, seen.length);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
const error = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(status, { error: { code, message: `${code} happened` } }, headers);
/** Drops the connection without an answer. */
const hangUp: Reply = (_req, res) => res.socket?.destroy();

const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };
const client = (
  url: string,
  retry: ConstructorParameters<typeof KilnClient>[0]["retry"] = fast,
  retries: RetryEvent[] = [],
) => new KilnClient({ baseUrl: url, apiKey: "key-1", retry, onRetry: (r) => retries.push(r) });

describe("KilnClient retries", () => {
  it("retries a GET after 5xx and a dropped connection, then answers", async () => {
    const { url, seen } = await api(
      error(502, "bad_gateway"),
      hangUp,
      json(200, { id: JOB_ID, status: "queued" }),
    );
    const retries: RetryEvent[] = [];
    const job = await client(url, { attempts: 4, baseDelayMs: 40, maxDelayMs: 60 }, retries).getRender(
      JOB_ID,
    );
    expect(job.status).toBe("queued");
    expect(retries.map((r) => [r.attempt, r.status])).toEqual([
      [1, 502],
      [2, undefined],
    ]);
    // Exponential with jitter: between half and all of 40 ms, then of 80 ms capped at 60 ms.
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(20);
    expect(retries[0]?.delayMs).toBeLessThanOrEqual(40);
    expect(retries[1]?.delayMs).toBeGreaterThanOrEqual(30);
    expect(retries[1]?.delayMs).toBeLessThanOrEqual(60);
    expect(seen.map((s) => s.url)).toEqual(Array(3).fill(`/v1/renders/${JOB_ID}`));
    expect(seen.every((s) => s.headers["x-api-key"] === "key-1")).toBe(true);
  });

  it("gives up after the configured attempts with a typed error", async () => {
    const { url, seen } = await api(error(503, "unavailable"));
    const err = await client(url)
      .getRender(JOB_ID)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnApiError);
    expect(err).toMatchObject({ status: 503, code: "unavailable", detail: "unavailable happened" });
    expect(seen).toHaveLength(4);
  });

  it("never retries a 4xx other than 429, and exposes the fields of a 400", async () => {
    const fields = [{ field: "output.width", message: "must be at most 4096" }];
    const { url, seen } = await api(
      json(400, { error: { code: "invalid_request", message: "output.width: too big", fields } }),
    );
    const err = await client(url)
      .submitRender(JOB)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: "invalid_request", fields });
    expect(seen).toHaveLength(1);
  });

  it("retries a submission with one Idempotency-Key it generated, so a retry cannot create a second job", async () => {
    const { url, seen } = await api(
      hangUp,
      error(500, "internal_error"),
      json(202, { id: JOB_ID, status: "queued" }, { location: `/v1/renders/${JOB_ID}` }),
    );
    const submitted = await client(url).submitRender(JOB);
    expect(submitted).toMatchObject({ id: JOB_ID, location: `/v1/renders/${JOB_ID}`, replayed: false });
    const keys = seen.map((s) => s.headers["idempotency-key"]);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toBe(submitted.idempotencyKey);
    expect(JSON.parse(seen[2]?.body ?? "")).toEqual(JOB);
  });

  it("uses a fresh key per submission, and the caller's key when given", async () => {
    const { url, seen } = await api(json(202, { id: JOB_ID, status: "queued" }));
    const c = client(url);
    await c.submitRender(JOB);
    await c.submitRender(JOB);
    await c.submitRender(JOB, { idempotencyKey: "order-7" });
    const keys = seen.map((s) => s.headers["idempotency-key"]);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe("order-7");
  });

  it("does not retry a POST that carries no Idempotency-Key", async () => {
    const { url, seen } = await api(error(503, "unavailable"), json(200, {}));
    await expect(client(url).request("POST", "/v1/renders", { json: JOB })).rejects.toMatchObject({
      status: 503,
    });
    expect(seen).toHaveLength(1);
  });

  it("waits as long as Retry-After says (seconds), not the short backoff", async () => {
    const { url, seen } = await api(
      error(429, "rate_limited", { "retry-after": "1" }),
      json(200, { id: JOB_ID, status: "queued" }),
    );
    const retries: RetryEvent[] = [];
    await client(url, fast, retries).getRender(JOB_ID);
    expect(seen).toHaveLength(2);
    // Backoff alone would wait at most 5 ms.
    expect(retries).toEqual([
      { method: "GET", path: `/v1/renders/${JOB_ID}`, attempt: 1, delayMs: 1000, status: 429 },
    ]);
  });

  it("caps a long Retry-After at maxRetryAfterMs", async () => {
    const { url, seen } = await api(
      error(503, "unavailable", { "retry-after": "3600" }),
      json(200, { id: JOB_ID, status: "queued" }),
    );
    const retries: RetryEvent[] = [];
    const job = await client(url, { ...fast, maxRetryAfterMs: 20 }, retries).getRender(JOB_ID);
    expect(job.id).toBe(JOB_ID);
    expect(seen).toHaveLength(2);
    expect(retries.map((r) => r.delayMs)).toEqual([20]);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-11-02T10:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7000);
    expect(parseRetryAfter("Mon, 02 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Mon, 02 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("carries Retry-After on the error it finally throws", async () => {
    const { url } = await api(error(429, "throttled", { "retry-after": "0" }));
    await expect(client(url, { ...fast, attempts: 2 }).getRender(JOB_ID)).rejects.toMatchObject({
      status: 429,
      retryAfterMs: 0,
    });
  });
});

/** A 127.0.0.1 URL where nothing listens: a port that was just free. */
async function closedUrl(): Promise<string> {
  const { url } = await api(json(200, {}));
  server?.close();
  await once(server as Server, "close");
  return url;
}

describe("KilnClient when the API cannot be reached", () => {
  it("throws after its retries an error naming the URL and the network error's code", async () => {
    const url = await closedUrl();
    const retries: RetryEvent[] = [];
    const failure = await client(url, fast, retries)
      .getRender(JOB_ID)
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(KilnConnectionError);
    expect((failure as KilnConnectionError).message).toBe(
      `cannot reach ${url}/v1/renders/${JOB_ID} (ECONNREFUSED)`,
    );
    expect((failure as KilnConnectionError).causeCode).toBe("ECONNREFUSED");
    expect(retries.map((r) => r.status)).toEqual([undefined, undefined, undefined]);
  });

  it("names a download's URL without its query, which carries the signature", async () => {
    const url = await closedUrl();
    const job = {
      id: JOB_ID,
      status: "succeeded",
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:00:00.000Z",
      attempts: 1,
      output: {
        url: `${url}/outputs/a.png?Expires=1&Signature=secret&Key-Pair-Id=K`,
        contentType: "image/png",
        bytes: 1,
        sha256: "0".repeat(64),
        expiresAt: "2026-01-01T00:05:00.000Z",
      },
    } as const;
    await expect(client(url).download(job)).rejects.toThrow(
      new KilnConnectionError(`${url}/outputs/a.png`, "ECONNREFUSED", { cause: undefined }),
    );
  });
});

describe("KilnClient requests", () => {
  it("keeps the base URL's path (an API Gateway stage) and sends no key to public routes", async () => {
    const { url, seen } = await api(json(200, { openapi: "3.1.0" }));
    const doc = await new KilnClient({ baseUrl: `${url}/live`, apiKey: "key-1" }).getOpenApi();
    expect(doc.openapi).toBe("3.1.0");
    expect(seen[0]?.url).toBe("/live/openapi.json");
    expect(seen[0]?.headers["x-api-key"]).toBeUndefined();
  });

  it("uploads assets raw with their content type, each key segment encoded", async () => {
    const { url, seen } = await api(
      json(201, { key: "brand/logo v2.png", bytes: 3, contentType: "image/png", sha256: "0".repeat(64) }),
    );
    await client(url).putAsset("brand/logo v2.png", new Uint8Array([1, 2, 3]), "image/png");
    expect(seen[0]).toMatchObject({ method: "PUT", url: "/v1/assets/brand/logo%20v2.png" });
    expect(seen[0]?.headers["content-type"]).toBe("image/png");
    expect(Buffer.from(seen[0]?.body ?? "", "utf8")).toEqual(Buffer.from([1, 2, 3]));
  });
});

describe("KilnClient.waitFor", () => {
  it("polls until the job is terminal and reports each change of status", async () => {
    const { url, seen } = await api(
      json(200, { id: JOB_ID, status: "queued" }),
      json(200, { id: JOB_ID, status: "queued" }),
      json(200, { id: JOB_ID, status: "rendering" }),
      json(200, { id: JOB_ID, status: "succeeded" }),
    );
    const statuses: string[] = [];
    const done = await client(url).waitFor(JOB_ID, {
      intervalMs: 1,
      onStatus: (j) => statuses.push(j.status),
    });
    expect(done.status).toBe("succeeded");
    expect(statuses).toEqual(["queued", "rendering", "succeeded"]);
    expect(seen).toHaveLength(4);
  });

  it("throws KilnWaitTimeoutError naming the last status once the time is up", async () => {
    const { url } = await api(json(200, { id: JOB_ID, status: "rendering" }));
    const err = await client(url)
      .waitFor(JOB_ID, { timeoutMs: 30, intervalMs: 5 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnWaitTimeoutError);
    expect(err).toMatchObject({ jobId: JOB_ID, lastStatus: "rendering" });
  });

  it("stops when its signal is aborted", async () => {
    const { url, seen } = await api(json(200, { id: JOB_ID, status: "queued" }));
    const controller = new AbortController();
    const waiting = client(url).waitFor(JOB_ID, {
      signal: controller.signal,
      intervalMs: 1,
      onStatus: () => controller.abort(new Error("caller gave up")),
    });
    await expect(waiting).rejects.toThrow("caller gave up");
    expect(seen).toHaveLength(1);
  });
});

describe("KilnClient waits within the request", () => {
  const view = (status: string) => ({
    id: JOB_ID,
    status,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:01.000Z",
    attempts: 1,
  });

  it("sends Prefer: wait with a submission and hands back the finished job from a 200", async () => {
    const { url, seen } = await api(
      json(200, view("succeeded"), { location: `/v1/renders/${JOB_ID}`, "preference-applied": "wait=10" }),
    );
    const submitted = await client(url).submitRender(JOB, { wait: 10 });
    expect(seen[0]?.headers.prefer).toBe("wait=10");
    expect(submitted).toMatchObject({ id: JOB_ID, status: "succeeded", replayed: false });
    expect(submitted.job).toEqual(view("succeeded"));
  });

  it("leaves job out of a 202 (not done within the wait) and of a replay of an unfinished job", async () => {
    const { url, seen } = await api(
      json(202, { id: JOB_ID, status: "rendering" }),
      json(200, view("queued"), { "idempotent-replayed": "true" }),
    );
    const waited = await client(url).submitRender(JOB, { wait: 1 });
    expect(waited).toMatchObject({ id: JOB_ID, status: "rendering" });
    expect(waited).not.toHaveProperty("job");
    const replayed = await client(url).submitRender(JOB);
    expect(replayed).toMatchObject({ status: "queued", replayed: true });
    expect(replayed).not.toHaveProperty("job");
    expect(seen[1]?.headers).not.toHaveProperty("prefer");
  });

  it("long-polls a job with getRender's wait", async () => {
    const { url, seen } = await api(json(200, view("failed")));
    expect((await client(url).getRender(JOB_ID, { wait: 20 })).status).toBe("failed");
    expect(seen[0]?.url).toBe(`/v1/renders/${JOB_ID}?wait=20`);
  });

  it("render: one request when the job ends within the wait, asking for as long as its timeout", async () => {
    const { url, seen } = await api(json(200, view("succeeded")));
    const statuses: string[] = [];
    const done = await client(url).render(JOB, {
      timeoutMs: 60_500,
      onStatus: (j) => statuses.push(j.status),
    });
    expect(done.status).toBe("succeeded");
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers.prefer).toBe("wait=61");
    expect(statuses).toEqual(["succeeded"]);
  });

  it("render: falls back to polling when the job outlasts the API's wait", async () => {
    const { url, seen } = await api(
      json(202, { id: JOB_ID, status: "rendering" }),
      json(200, view("rendering")),
      json(200, view("succeeded")),
    );
    const done = await client(url).render(JOB, { intervalMs: 1 });
    expect(done.status).toBe("succeeded");
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "POST /v1/renders",
      `GET /v1/renders/${JOB_ID}`,
      `GET /v1/renders/${JOB_ID}`,
    ]);
  });
});
