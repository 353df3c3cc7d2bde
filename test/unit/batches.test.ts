import { describe, expect, it } from "vitest";
import {
  MemoryArtifactStore,
  MemoryBatchQueue,
  MemoryBatchStore,
  MemoryRecordsSource,
} from "../../functions/adapters/memory/batch-fakes.js";
import {
  FixedClock,
  MemoryIdempotencyStore,
  MemoryJobStore,
  MemoryPayloadStore,
  MemoryRenderQueue,
} from "../../functions/adapters/memory/memory-ports.js";
import { MemoryTemplateStore } from "../../functions/adapters/memory/template-asset-fakes.js";
import {
  BATCHES,
  type Batch,
  batchJobId,
  batchManifestKey,
  batchZipKey,
  checkBatch,
  chunkRanges,
  fanOutChunk,
  mergedSettled,
  parseBatchSubmission,
  parseJsonLines,
  resolveBatchRecords,
  submitBatch,
  summarizeBatch,
} from "../../functions/core/batches.js";
import {
  IdempotencyConflictError,
  PermanentRenderError,
  ValidationError,
} from "../../functions/core/errors.js";
import type { PdfMerger } from "../../functions/core/pdf-finishing.js";
import { RENDERER } from "../../functions/core/renderer-identity.js";

const silent = { info() {}, warn() {}, error() {}, debug() {}, child: () => silent };
const TEMPLATE = { html: "<p>{{ n }}</p>" };
const OUTPUT = { format: "png", width: 240, height: 120 };

function issuesOf(fn: () => unknown): Promise<Array<{ field: string; message: string }>> {
  return Promise.resolve()
    .then(fn)
    .then(
      () => {
        throw new Error("expected a ValidationError");
      },
      (err: unknown) => {
        if (!(err instanceof ValidationError)) throw err;
        return [...err.issues];
      },
    );
}

describe("batch validation", () => {
  it("asks for records or recordsKey, not both and not neither", async () => {
    expect(await issuesOf(() => parseBatchSubmission({ template: TEMPLATE, output: OUTPUT }))).toEqual([
      expect.objectContaining({ field: "records" }),
    ]);
    const both = await issuesOf(() =>
      parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records: [{}], recordsKey: "r.jsonl" }),
    );
    expect(both[0]?.field).toBe("recordsKey");
  });

  it("refuses more than the inline limit and a data field (records carry the data)", async () => {
    const records = Array.from({ length: BATCHES.maxInlineRecords + 1 }, () => ({}));
    const issues = await issuesOf(() =>
      parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records }),
    );
    expect(issues[0]?.field).toBe("records");
    const data = await issuesOf(() =>
      parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records: [{}], data: {} }),
    );
    expect(data).toContainEqual({ field: "data", message: "unknown field" });
  });

  it("refuses PDF passwords, which the batch's stored request would keep, and takes other finishing", async () => {
    const pdf = (finishing: Record<string, unknown>) => ({
      template: TEMPLATE,
      output: { format: "pdf", pdf: finishing },
      records: [{}],
    });
    expect(await issuesOf(() => parseBatchSubmission(pdf({ protection: { userPassword: "p" } })))).toEqual([
      {
        field: "output.pdf.protection",
        message: "is not available for batches: submit protected PDFs with POST /v1/renders",
      },
    ]);
    expect(parseBatchSubmission(pdf({ stamps: [{ text: "COPY" }] })).output.pdf?.stamps).toHaveLength(1);
  });

  it("names each record that breaks the stored template's schema by index, and caps the list", async () => {
    const versions = new MemoryTemplateStore();
    await versions.create("t1", {
      id: "invoice",
      version: 1,
      createdAt: "2026-01-01T00:00:00.000Z",
      sha256: "x",
      bytes: 1,
      schema: { type: "object", required: ["total"], properties: { total: { type: "number" } } },
    });
    const records = Array.from({ length: 40 }, (_, i) => (i === 17 ? { total: "ten" } : { total: i }));
    records[3] = "not an object" as never;
    const submission = parseBatchSubmission({
      template: { id: "invoice", version: 1 },
      output: OUTPUT,
      records,
    });
    const issues = await issuesOf(() => resolveBatchRecords({ templates: { versions } }, "t1", submission));
    expect(issues.map((i) => i.field)).toEqual(["records.3", "records.17.total"]);

    const many = parseBatchSubmission({
      template: { id: "invoice", version: 1 },
      output: OUTPUT,
      records: Array.from({ length: 30 }, () => ({})),
    });
    const capped = await issuesOf(() => resolveBatchRecords({ templates: { versions } }, "t1", many));
    expect(capped).toHaveLength(BATCHES.maxListedIssues + 1);
    expect(capped.at(-1)?.message).toContain("10 more problems");
    expect(capped[0]).toEqual({ field: "records.0.total", message: "required" });
  });

  it("names a missing template version", async () => {
    const submission = parseBatchSubmission({
      template: { id: "nope", version: 2 },
      output: OUTPUT,
      records: [{}],
    });
    const issues = await issuesOf(() =>
      resolveBatchRecords({ templates: { versions: new MemoryTemplateStore() } }, "t1", submission),
    );
    expect(issues).toEqual([{ field: "template.id", message: "there is no template nope" }]);
  });

  it("reads JSONL records from the tenant's assets and names bad lines", async () => {
    const records = new MemoryRecordsSource();
    records.texts.set("assets/t1/r.jsonl", '{"n":1}\n\n{"n":2}\r\n');
    records.texts.set("assets/t1/bad.jsonl", '{"n":1}\n{"n":\n[1]\n');
    const ok = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, recordsKey: "r.jsonl" });
    expect(await resolveBatchRecords({ records }, "t1", ok)).toEqual([{ n: 1 }, { n: 2 }]);
    const bad = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, recordsKey: "bad.jsonl" });
    const issues = await issuesOf(() => resolveBatchRecords({ records }, "t1", bad));
    expect(issues).toEqual([
      { field: "recordsKey", message: expect.stringMatching(/^line 2 is not valid JSON/) },
    ]);
    const missing = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, recordsKey: "gone.jsonl" });
    expect((await issuesOf(() => resolveBatchRecords({ records }, "t1", missing)))[0]?.field).toBe(
      "recordsKey",
    );
  });

  it("parses JSON lines with their line numbers", () => {
    const parsed = parseJsonLines('{"a":1}\n\n  \n{"b":2}\nnope\n');
    expect(parsed.records).toEqual([{ a: 1 }, { b: 2 }]);
    expect(parsed.lines).toEqual([1, 4]);
    expect(parsed.issues.map((i) => i.line)).toEqual([5]);
  });
});

describe("chunking and ids", () => {
  it("covers every record exactly once", () => {
    expect(chunkRanges(0, 250)).toEqual([]);
    expect(chunkRanges(501, 250)).toEqual([
      { start: 0, end: 250 },
      { start: 250, end: 500 },
      { start: 500, end: 501 },
    ]);
  });

  it("derives stable, distinct UUID-shaped job ids per tenant, batch and index", () => {
    const id = batchJobId("t1", "b1", 7);
    expect(id).toBe(batchJobId("t1", "b1", 7));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ids = new Set(Array.from({ length: 1000 }, (_, i) => batchJobId("t1", "b1", i)));
    expect(ids.size).toBe(1000);
    expect(batchJobId("t2", "b1", 7)).not.toBe(id);
    expect(batchJobId("t1", "b2", 7)).not.toBe(id);
  });
});

function pipeline() {
  const jobs = new MemoryJobStore();
  const batches = new MemoryBatchStore(jobs);
  const queue = new MemoryBatchQueue();
  const renderQueue = new MemoryRenderQueue();
  const payloads = new MemoryPayloadStore();
  const artifacts = new MemoryArtifactStore();
  const clock = new FixedClock(new Date("2026-11-22T10:00:00.000Z"));
  let n = 0;
  const newId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
  return {
    jobs,
    batches,
    queue,
    renderQueue,
    payloads,
    artifacts,
    clock,
    submit: { batches, queue, payloads, idempotency: new MemoryIdempotencyStore(), clock, newId },
    fanOut: { jobs, renderQueue, payloads, clock },
    check: { batches, artifacts, queue, clock, logger: silent },
  };
}

describe("submit and fan out", () => {
  it("stores the records in chunks, queues one message per chunk and a delayed check", async () => {
    const p = pipeline();
    const records = Array.from({ length: 600 }, (_, n) => ({ n }));
    const submission = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records });
    const { batch } = await submitBatch(p.submit, "t1", submission, records);
    expect(batch.total).toBe(600);
    const chunks = p.queue.sent.filter((s) => s.message.kind === "chunk");
    expect(chunks.map((s) => s.message)).toEqual(
      [0, 1, 2].map((chunk) => ({ kind: "chunk", tenant: "t1", batchId: batch.id, chunk })),
    );
    expect(p.queue.sent.filter((s) => s.message.kind === "check").map((s) => s.delaySeconds)).toEqual([
      BATCHES.checkEverySeconds,
    ]);
    expect(await p.batches.get("t1", batch.id)).toEqual(batch);
  });

  it("creates each job once even when a chunk is delivered twice", async () => {
    const p = pipeline();
    const records = Array.from({ length: 300 }, (_, n) => ({ n }));
    const submission = parseBatchSubmission({
      template: TEMPLATE,
      output: OUTPUT,
      records,
      callbackUrl: "https://example.com/hook",
    });
    const { batch } = await submitBatch(p.submit, "t1", submission, records);
    const first = await fanOutChunk(p.fanOut, { tenant: "t1", batchId: batch.id, chunk: 1 });
    const again = await fanOutChunk(p.fanOut, { tenant: "t1", batchId: batch.id, chunk: 1 });
    expect(first).toEqual({ created: 50, existing: 0 });
    expect(again).toEqual({ created: 0, existing: 50 });
    expect(p.jobs.jobs.size).toBe(50);
    const job = await p.jobs.get("t1", batchJobId("t1", batch.id, 260));
    expect(job?.batch).toEqual({ id: batch.id, index: 260 });
    expect((await p.jobs.getRequest("t1", batchJobId("t1", batch.id, 260)))?.data).toEqual({ n: 260 });
    expect(job?.callbackUrl).toBe("https://example.com/hook");
    // Messages are sent again on redelivery (a duplicate is harmless; a missing one would strand a job).
    expect(p.renderQueue.messages).toHaveLength(100);
  });

  it("answers a repeated Idempotency-Key with the same batch, and refuses it for another body", async () => {
    const p = pipeline();
    const records = [{ n: 1 }];
    const submission = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records });
    const first = await submitBatch(p.submit, "t1", submission, records, "key-1");
    const again = await submitBatch(p.submit, "t1", submission, records, "key-1");
    expect(again).toEqual({ batch: first.batch, replayed: true });
    const other = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records: [{ n: 2 }] });
    await expect(submitBatch(p.submit, "t1", other, [{ n: 2 }], "key-1")).rejects.toBeInstanceOf(
      IdempotencyConflictError,
    );
  });
});

describe("batch zip claim", () => {
  it("leaves the zip to the check that claimed it", async () => {
    const p = pipeline();
    const records = [{ n: 0 }];
    const submission = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records, zip: true });
    const { batch } = await submitBatch(p.submit, "t1", submission, records);
    await fanOutChunk(p.fanOut, { tenant: "t1", batchId: batch.id, chunk: 0 });
    const at = p.clock.now();
    await p.jobs.markFailed(
      "t1",
      batchJobId("t1", batch.id, 0),
      { code: "render_failed", message: "boom" },
      at,
      { leaseExpiredAtMs: at.getTime() },
      false,
    );
    expect(await p.batches.claim("t1", batch.id, "zip", at, 1000)).toBe(true);
    expect(await checkBatch(p.check, { tenant: "t1", batchId: batch.id })).toBe("running");
    expect(await p.artifacts.read(batchZipKey("t1", batch.id))).toBeUndefined();
    // The manifest does not wait for the zip.
    expect(await p.artifacts.read(batchManifestKey("t1", batch.id))).toBeDefined();
  });
});

describe("batch status", () => {
  it("derives counts and the overall status from the jobs", () => {
    const of = (...statuses: Array<"queued" | "rendering" | "succeeded" | "failed">) =>
      statuses.map((status) => ({ status }));
    expect(summarizeBatch(3, [])).toMatchObject({ status: "queued", complete: false, counts: { queued: 3 } });
    expect(summarizeBatch(3, of("rendering"))).toMatchObject({
      status: "running",
      counts: { queued: 2, rendering: 1 },
    });
    expect(summarizeBatch(3, of("succeeded", "queued"))).toMatchObject({
      status: "running",
      complete: false,
    });
    expect(summarizeBatch(2, of("succeeded", "succeeded"))).toMatchObject({
      status: "succeeded",
      complete: true,
    });
    expect(summarizeBatch(2, of("succeeded", "failed"))).toMatchObject({
      status: "partially_failed",
      complete: true,
    });
    expect(summarizeBatch(2, of("failed", "failed"))).toMatchObject({ status: "failed", complete: true });
  });

  it("checks again while running, then writes the manifest and a zip once complete", async () => {
    const p = pipeline();
    const records = [{ n: 0 }, { n: 1 }];
    const submission = parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records, zip: true });
    const { batch } = await submitBatch(p.submit, "t1", submission, records);
    await fanOutChunk(p.fanOut, { tenant: "t1", batchId: batch.id, chunk: 0 });
    p.queue.sent.length = 0;
    expect(await checkBatch(p.check, { tenant: "t1", batchId: batch.id })).toBe("running");
    expect(p.queue.sent).toEqual([
      {
        message: { kind: "check", tenant: "t1", batchId: batch.id },
        delaySeconds: BATCHES.checkEverySeconds,
      },
    ]);

    const at = p.clock.now();
    const png = new Uint8Array([1, 2, 3]);
    // What the worker records of a render: the manifest carries it, so each output can be traced.
    const provenance = {
      inputs: { template: "a".repeat(64), data: "b".repeat(64), assets: {}, options: "c".repeat(64) },
      renderer: RENDERER,
      cacheKey: "d".repeat(64),
    };
    p.artifacts.objects.set("outputs/t1/aa.png", { body: png, contentType: "image/png" });
    const first = batchJobId("t1", batch.id, 0);
    await p.jobs.startAttempt("t1", first, { owner: "w", expiresAtMs: at.getTime() + 1000 }, at);
    await p.jobs.markSucceeded(
      "t1",
      first,
      "w",
      { key: "outputs/t1/aa.png", contentType: "image/png", bytes: 3, sha256: "aa", provenance },
      at,
      false,
    );
    await p.jobs.markFailed(
      "t1",
      batchJobId("t1", batch.id, 1),
      { code: "render_failed", message: "boom" },
      at,
      { leaseExpiredAtMs: at.getTime() },
      false,
    );

    expect(await checkBatch(p.check, { tenant: "t1", batchId: batch.id })).toBe("finished");
    const manifest = JSON.parse(
      Buffer.from((await p.artifacts.read(batchManifestKey("t1", batch.id))) ?? []).toString(),
    );
    expect(manifest).toMatchObject({ status: "partially_failed", counts: { succeeded: 1, failed: 1 } });
    expect(manifest.entries[0].output.provenance).toEqual(provenance);
    expect(manifest.entries[1]).toEqual({
      index: 1,
      jobId: batchJobId("t1", batch.id, 1),
      status: "failed",
      error: { code: "render_failed", message: "boom" },
    });
    const stored = await p.batches.get("t1", batch.id);
    expect(stored?.zipKey).toBe(batchZipKey("t1", batch.id));
    const zip = Buffer.from((await p.artifacts.read(batchZipKey("t1", batch.id))) ?? []);
    expect(zip.byteLength).toBe(stored?.zipBytes);
    // The succeeded output under its index (the failed record has none), then the manifest.
    expect(zip.includes(Buffer.concat([Buffer.from("0.png"), png]))).toBe(true);
    expect(zip.includes(Buffer.from("1.png"))).toBe(false);
    expect(zip.includes(Buffer.from("manifest.json"))).toBe(true);
  });
});

describe("batch merged PDF", () => {
  /** A batch of three PDF records whose record 1 failed; records 0 and 2 have outputs. */
  async function endedPdfBatch(p: ReturnType<typeof pipeline>) {
    const records = [{ n: 0 }, { n: 1 }, { n: 2 }];
    const submission = parseBatchSubmission({
      template: TEMPLATE,
      output: { format: "pdf" },
      records,
      mergePdf: true,
    });
    const { batch } = await submitBatch(p.submit, "t1", submission, records);
    await fanOutChunk(p.fanOut, { tenant: "t1", batchId: batch.id, chunk: 0 });
    const at = p.clock.now();
    for (const index of [0, 2]) {
      const key = `outputs/t1/${index}.pdf`;
      p.artifacts.objects.set(key, { body: new Uint8Array([index]), contentType: "application/pdf" });
      const id = batchJobId("t1", batch.id, index);
      await p.jobs.startAttempt("t1", id, { owner: "w", expiresAtMs: at.getTime() + 1000 }, at);
      const output = { key, contentType: "application/pdf", bytes: 1, sha256: `s${index}` };
      await p.jobs.markSucceeded("t1", id, "w", output, at, false);
    }
    const failed = { code: "render_failed", message: "boom" };
    const leaseExpired = { leaseExpiredAtMs: at.getTime() };
    await p.jobs.markFailed("t1", batchJobId("t1", batch.id, 1), failed, at, leaseExpired, false);
    return batch;
  }

  it("is refused for a batch that does not render PDFs, naming mergePdf", async () => {
    expect(
      await issuesOf(() =>
        parseBatchSubmission({ template: TEMPLATE, output: OUTPUT, records: [{ n: 1 }], mergePdf: true }),
      ),
    ).toEqual([
      { field: "mergePdf", message: 'applies only to output.format "pdf" (this batch renders png)' },
    ]);
  });

  it("hands the merger the succeeded outputs in record order, and records the reason it refuses them", async () => {
    const p = pipeline();
    const batch = await endedPdfBatch(p);
    const seen: Array<{ title: string; pdf: number[] }> = [];
    const merger: PdfMerger = {
      async merge(documents) {
        for await (const d of documents) seen.push({ title: d.title, pdf: [...d.pdf] });
        throw new PermanentRenderError(
          "output_too_large",
          "With record 2 the PDF would have more than 500 pages.",
        );
      },
    };
    expect(await checkBatch({ ...p.check, merger }, { tenant: "t1", batchId: batch.id })).toBe("finished");
    expect(seen).toEqual([
      { title: "Record 0", pdf: [0] },
      { title: "Record 2", pdf: [2] },
    ]);
    const stored = await p.batches.get("t1", batch.id);
    expect(stored?.mergedError).toBe("With record 2 the PDF would have more than 500 pages.");
    expect(stored?.mergedKey).toBeUndefined();
    expect(mergedSettled(stored as Batch)).toBe(true);
    const manifest = JSON.parse(
      Buffer.from((await p.artifacts.read(batchManifestKey("t1", batch.id))) ?? []).toString(),
    );
    expect(manifest.mergedPdf).toEqual({ file: "merged.pdf", records: [0, 2], omitted: [1] });
  });

  it("leaves a merge that failed for another reason to the check's redelivery", async () => {
    const p = pipeline();
    const batch = await endedPdfBatch(p);
    const merger: PdfMerger = {
      async merge() {
        throw new Error("S3 read timed out");
      },
    };
    await expect(checkBatch({ ...p.check, merger }, { tenant: "t1", batchId: batch.id })).rejects.toThrow(
      "S3 read timed out",
    );
    const stored = await p.batches.get("t1", batch.id);
    expect([stored?.mergedKey, stored?.mergedError]).toEqual([undefined, undefined]);
  });
});
