import { describe, expect, it } from "vitest";
import { MemoryBatchQueue, MemoryBatchStore } from "../../functions/adapters/memory/batch-fakes.js";
import { FixedClock, MemoryJobStore } from "../../functions/adapters/memory/memory-ports.js";
import { batchJobId, batchManifestKey } from "../../functions/core/batches.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { apiEvent, KEY_A as KEY, memoryApiDeps, sequentialIds } from "./support/api.js";

const OUTPUT = { format: "png", width: 240, height: 120 };

function setup(withBatches = true) {
  const clock = new FixedClock();
  const jobs = new MemoryJobStore();
  const store = new MemoryBatchStore(jobs);
  const queue = new MemoryBatchQueue();
  const handler = makeHandler(
    memoryApiDeps({
      jobs,
      clock,
      callbackPolicy: { schemes: ["https"] },
      newId: sequentialIds(),
      ...(withBatches ? { batches: { store, queue } } : {}),
    }),
  );
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await handler(
      apiEvent({
        httpMethod: method,
        path,
        headers: { "x-api-key": KEY, "content-type": "application/json", ...headers },
        body: body === undefined ? null : JSON.stringify(body),
      }),
    );
    return { ...res, json: JSON.parse(res.body) };
  };
  return { call, jobs, store, queue, clock };
}

describe("POST /v1/batches", () => {
  it("answers 202 with the batch id, status, total and Location, and queues its fan-out", async () => {
    const { call, queue } = setup();
    const res = await call("POST", "/v1/batches", {
      template: { html: "<p>{{ n }}</p>" },
      output: OUTPUT,
      records: [{ n: 1 }, { n: 2 }],
    });
    expect(res.statusCode).toBe(202);
    expect(res.json).toEqual({ id: expect.any(String), status: "queued", total: 2 });
    expect(res.headers?.location).toBe(`/v1/batches/${res.json.id}`);
    expect(queue.sent.map((s) => s.message.kind)).toEqual(["chunk", "check"]);
  });

  it("names bad records by index in a 400 and queues nothing", async () => {
    const { call, queue } = setup();
    const res = await call("POST", "/v1/batches", {
      template: { html: "<p>{{ n }}</p>" },
      output: OUTPUT,
      records: [{ n: 1 }, 7, { n: 3 }, []],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json.error.fields).toEqual([
      { field: "records.1", message: "must be a JSON object" },
      { field: "records.3", message: "must be a JSON object" },
    ]);
    expect(queue.sent).toEqual([]);
  });

  it("replays the batch for a repeated Idempotency-Key", async () => {
    const { call } = setup();
    const body = { template: { html: "<p>x</p>" }, output: OUTPUT, records: [{}] };
    const first = await call("POST", "/v1/batches", body, { "idempotency-key": "k1" });
    const again = await call("POST", "/v1/batches", body, { "idempotency-key": "k1" });
    expect(again.statusCode).toBe(200);
    expect(again.headers?.["idempotent-replayed"]).toBe("true");
    expect(again.json.id).toBe(first.json.id);
  });

  it("answers 404 where batches are not configured", async () => {
    const { call } = setup(false);
    const res = await call("POST", "/v1/batches", { template: { html: "x" }, output: OUTPUT, records: [{}] });
    expect(res.statusCode).toBe(404);
  });
});

describe("GET /v1/batches/{id}", () => {
  it("counts the jobs, asks for a check once complete, and signs the manifest once written", async () => {
    const { call, jobs, store, queue, clock } = setup();
    const { json } = await call("POST", "/v1/batches", {
      template: { html: "<p>{{ n }}</p>" },
      output: OUTPUT,
      records: [{ n: 0 }, { n: 1 }],
    });
    const at = clock.now().toISOString();
    const job = (index: number, status: "queued" | "succeeded") => ({
      tenant: "a",
      id: batchJobId("a", json.id, index),
      status,
      createdAt: at,
      updatedAt: at,
      attempts: 1,
      batch: { id: json.id, index },
    });
    await jobs.create(job(0, "succeeded"));
    let view = await call("GET", `/v1/batches/${json.id}`);
    expect(view.json).toMatchObject({ status: "running", total: 2, counts: { queued: 1, succeeded: 1 } });
    expect(view.json.manifest).toBeUndefined();

    await jobs.create(job(1, "succeeded"));
    queue.sent.length = 0;
    view = await call("GET", `/v1/batches/${json.id}`);
    expect(view.json).toMatchObject({ status: "succeeded", counts: { succeeded: 2, queued: 0 } });
    expect(queue.sent).toEqual([
      { message: { kind: "check", tenant: "a", batchId: json.id }, delaySeconds: 0 },
    ]);

    await store.recordArtifacts("a", json.id, { manifestKey: batchManifestKey("a", json.id) });
    view = await call("GET", `/v1/batches/${json.id}`);
    expect(view.json.manifest).toMatchObject({ url: expect.stringContaining("manifest.json"), entries: 2 });
  });

  it("answers 404 for another tenant's or an unknown batch", async () => {
    const { call } = setup();
    expect((await call("GET", "/v1/batches/00000000-0000-4000-8000-000000000009")).statusCode).toBe(404);
    expect((await call("GET", "/v1/batches/not-an-id")).statusCode).toBe(404);
  });
});
