import { createHash } from "node:crypto";
import { z } from "zod";
import { AssetKeySchema, assetObjectKey } from "./assets.js";
import { mapConcurrently } from "./concurrency.js";
import { BATCH_QUEUE, OUTPUTS, PAYLOADS } from "./constants.js";
import { type FieldIssue, PermanentRenderError, ValidationError } from "./errors.js";
import { claimIdempotencyKey } from "./idempotency.js";
import type { Job, JobFailure, JobOutput, JobStatus } from "./job.js";
import { validateData } from "./json-schema.js";
import type { BatchMessage } from "./messages.js";
import type { PdfMerger } from "./pdf-finishing.js";
import type { Clock, IdempotencyStore, JobStore, Logger, PayloadStore, RenderMessage } from "./ports.js";
import {
  CallbackUrlSchema,
  CONTENT_TYPES,
  EXPRESSION_NEEDS_JAVASCRIPT,
  parseOrThrow,
  RenderRequestSchema,
  requireJavaScriptForExpression,
} from "./render-request.js";
import { implies, jsonSchemaRules, present } from "./schema-rules.js";
import { queuedJob } from "./submit-render.js";
import { storedTemplateSchema, type TemplateDeps, TemplateRefSchema } from "./templates.js";

/**
 * Batches (variable-data printing): one template and one set of output options, rendered once per data
 * record. A batch is accepted in one request and fanned out in chunks by the batch-fanout function,
 * which creates ordinary render jobs with ids derived from the batch id and the record's index; every
 * render then takes the normal path (render queue, worker, retries, dead-letter queue).
 */
export const BATCHES = {
  /** Records in the request body (which is also capped at LIMITS.requestBytes). */
  maxInlineRecords: 10_000,
  /** Records in a `recordsKey` JSONL asset. */
  maxRecords: 50_000,
  /** Records per fan-out message: a chunk's jobs are created and queued in well under a minute. */
  chunkSize: 250,
  /** Problems listed in one 400; the rest are counted. */
  maxListedIssues: 20,
  /** Under the payload prefix, so the bucket's lifecycle rule and grants cover it. */
  payloadPrefix: `${PAYLOADS.keyPrefix}batches/`,
  /** Completion checks while a batch runs. */
  checkEverySeconds: 15,
  /** A batch not complete after this long (its fan-out dead-lettered) is no longer checked. */
  checkForHours: 24,
  /** Signed output URLs per page of GET /v1/batches/{id}/outputs (the signer signs 100 per call). */
  outputsPageSize: 100,
} as const;

export type BatchStatus = "queued" | "running" | "succeeded" | "partially_failed" | "failed";

const EXTENSIONS: Readonly<Record<string, string>> = {
  [CONTENT_TYPES.png]: "png",
  [CONTENT_TYPES.jpeg]: "jpg",
  [CONTENT_TYPES.webp]: "webp",
  [CONTENT_TYPES.pdf]: "pdf",
};

// ---------------------------------------------------------------------------------------------------
// The request

const RecordSchema = z.record(z.string(), z.unknown());

/** The body of POST /v1/batches: a render request without `data`, plus the records. */
export const BatchSubmissionSchema = RenderRequestSchema.omit({ data: true, source: true })
  .extend({
    /** Every document of a batch is the same template with other data: a URL job has no data. */
    template: TemplateRefSchema.describe("Inline `{html}`, or a stored template's exact `{id, version}`."),
    /** One data object per document, rendered in this order (the index is the position). */
    records: z
      .array(z.unknown())
      .min(1)
      .max(BATCHES.maxInlineRecords)
      // Each record is checked to be an object after parsing, to name bad ones by index, capped.
      .register(jsonSchemaRules, { items: { type: "object" } })
      .optional()
      .describe(
        `One data object per document, rendered in this order (at most ${BATCHES.maxInlineRecords}); or give recordsKey.`,
      ),
    /** Instead of `records`: a JSONL file (one object per line) in the tenant's assets. */
    recordsKey: AssetKeySchema.optional().describe(
      `Instead of records: the key of a JSONL asset, one data object per line (at most ${BATCHES.maxRecords}).`,
    ),
    /** Where each render's signed completion event is POSTed, as with POST /v1/renders. */
    callbackUrl: CallbackUrlSchema.optional().describe(
      "Each render's signed completion event is POSTed here, as with POST /v1/renders.",
    ),
    /** Also produce one zip of all outputs (and the manifest) once the batch is complete. */
    zip: z
      .boolean()
      .optional()
      .describe("Also produce one zip of all outputs and the manifest once the batch is complete."),
    /** Also produce one PDF of every succeeded record, in record order (PDF batches only). */
    mergePdf: z
      .boolean()
      .optional()
      .describe(
        'Also produce one PDF of every succeeded record in record order, one bookmark per record ("Record 0", …), once the batch is complete. Only for output.format "pdf".',
      ),
  })
  .superRefine((b, ctx) => {
    requireJavaScriptForExpression(b, ctx);
    if (b.mergePdf === true && b.output.format !== "pdf") {
      ctx.addIssue({
        code: "custom",
        path: ["mergePdf"],
        message: `applies only to output.format "pdf" (this batch renders ${b.output.format})`,
      });
    }
    if (b.output.pdf?.protection !== undefined) {
      // The batch's request is kept until the batch expires: a password in it would outlive the jobs.
      ctx.addIssue({
        code: "custom",
        path: ["output", "pdf", "protection"],
        message: "is not available for batches: submit protected PDFs with POST /v1/renders",
      });
    }
    if ((b.records === undefined) === (b.recordsKey === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: b.records === undefined ? ["records"] : ["recordsKey"],
        message:
          b.records === undefined
            ? `required: up to ${BATCHES.maxInlineRecords} data objects, or name a JSONL asset with recordsKey`
            : "give records or recordsKey, not both",
      });
    }
  })
  .register(jsonSchemaRules, {
    allOf: [
      EXPRESSION_NEEDS_JAVASCRIPT,
      { oneOf: [present("records"), present("recordsKey")] },
      implies(present("mergePdf", true), {
        required: ["output"],
        properties: { output: present("format", "pdf") },
      }),
    ],
  });
export type BatchSubmission = z.output<typeof BatchSubmissionSchema>;

/** What every job of a batch shares: the render request less its data. */
export type BatchRequest = Omit<
  BatchSubmission,
  "records" | "recordsKey" | "callbackUrl" | "zip" | "mergePdf"
>;

export function parseBatchSubmission(body: unknown): BatchSubmission {
  return parseOrThrow(BatchSubmissionSchema, body);
}

export interface JsonLinesResult {
  readonly records: unknown[];
  /** 1-based line number of each record. */
  readonly lines: number[];
  readonly issues: ReadonlyArray<{ readonly line: number; readonly message: string }>;
}

/** One JSON value per line; blank lines are skipped. A line that does not parse is named by number. */
export function parseJsonLines(text: string): JsonLinesResult {
  const records: unknown[] = [];
  const lines: number[] = [];
  const issues: Array<{ line: number; message: string }> = [];
  const all = text.split("\n");
  for (let i = 0; i < all.length; i++) {
    const line = (all[i] ?? "").replace(/\r$/, "");
    if (line.trim() === "") continue;
    try {
      records.push(JSON.parse(line));
      lines.push(i + 1);
    } catch (err) {
      issues.push({ line: i + 1, message: `is not valid JSON (${(err as Error).message})` });
    }
  }
  return { records, lines, issues };
}

/** Caps a list of problems, saying how many more there were. */
function capIssues(issues: readonly FieldIssue[], field: string): FieldIssue[] {
  if (issues.length <= BATCHES.maxListedIssues) return [...issues];
  return [
    ...issues.slice(0, BATCHES.maxListedIssues),
    {
      field,
      message: `${issues.length - BATCHES.maxListedIssues} more problems not listed (the first ${BATCHES.maxListedIssues} are shown)`,
    },
  ];
}

export interface RecordsSource {
  /** The text of an object in the tenant's assets bucket; undefined when there is none. */
  readText(objectKey: string): Promise<string | undefined>;
}

/**
 * The records of a submission, every one checked: each must be a JSON object and, when the stored
 * template has a JSON Schema, satisfy it. Problems are named by index (`records.17.total`), and for a
 * JSONL asset also by line; any problem is a 400 before anything is stored or queued.
 */
export async function resolveBatchRecords(
  deps: { readonly templates?: Pick<TemplateDeps, "versions">; readonly records?: RecordsSource },
  tenant: string,
  submission: BatchSubmission,
): Promise<Record<string, unknown>[]> {
  let raw: unknown[];
  let lineOf: (index: number) => number | undefined = () => undefined;
  if (submission.records) {
    raw = submission.records;
  } else {
    const key = submission.recordsKey as string;
    const text = deps.records ? await deps.records.readText(assetObjectKey(tenant, key)) : undefined;
    if (text === undefined) {
      throw new ValidationError([
        { field: "recordsKey", message: `there is no asset ${key}: upload it with PUT /v1/assets/${key}` },
      ]);
    }
    const parsed = parseJsonLines(text);
    if (parsed.issues.length > 0) {
      throw new ValidationError(
        capIssues(
          parsed.issues.map((i) => ({ field: `recordsKey`, message: `line ${i.line} ${i.message}` })),
          "recordsKey",
        ),
      );
    }
    if (parsed.records.length === 0) {
      throw new ValidationError([{ field: "recordsKey", message: `${key} holds no records` }]);
    }
    if (parsed.records.length > BATCHES.maxRecords) {
      throw new ValidationError([
        {
          field: "recordsKey",
          message: `${key} holds ${parsed.records.length} records; a batch has at most ${BATCHES.maxRecords}`,
        },
      ]);
    }
    raw = parsed.records;
    lineOf = (index) => parsed.lines[index];
  }

  const schema = await storedTemplateSchema(deps.templates, tenant, submission.template);
  const issues: FieldIssue[] = [];
  const records: Record<string, unknown>[] = [];
  raw.forEach((value, index) => {
    const where = lineOf(index) === undefined ? "" : ` (line ${lineOf(index)} of ${submission.recordsKey})`;
    const parsed = RecordSchema.safeParse(value);
    if (!parsed.success) {
      issues.push({ field: `records.${index}`, message: `must be a JSON object${where}` });
      return;
    }
    records.push(parsed.data);
    if (!schema) return;
    for (const issue of validateData(schema, parsed.data)) {
      // validateData names fields under `data`; in a batch they are under the record's index.
      const field = issue.field.replace(/^data(?=\.|$)/, `records.${index}`);
      issues.push({ field, message: `${issue.message}${where}` });
    }
  });
  if (issues.length > 0) throw new ValidationError(capIssues(issues, "records"));
  return records;
}

// ---------------------------------------------------------------------------------------------------
// Records, messages and ports

export interface Batch {
  readonly tenant: string;
  readonly id: string;
  readonly createdAt: string;
  readonly total: number;
  readonly chunkSize: number;
  readonly zip: boolean;
  /** Set once the batch is complete and its manifest is written. */
  readonly manifestKey?: string;
  readonly zipKey?: string;
  readonly zipBytes?: number;
  /**
   * Why no zip could be made. Only batches zipped before archives were ZIP64 have it (a zip then held
   * at most 65,535 files and 4 GiB); they keep showing it.
   */
  readonly zipError?: string;
  /** Submitted with `mergePdf: true`. */
  readonly mergePdf: boolean;
  /** Set once the merged PDF is written. */
  readonly mergedKey?: string;
  readonly mergedBytes?: number;
  /** Why no merged PDF could be made (too many pages). */
  readonly mergedError?: string;
}

/** The fields of a batch that its completion check writes. */
export type BatchArtifacts = Pick<
  Batch,
  "manifestKey" | "zipKey" | "zipBytes" | "mergedKey" | "mergedBytes" | "mergedError"
>;

/** One job of a batch as the batch-jobs index shows it. */
export interface BatchJobEntry {
  readonly index: number;
  readonly jobId: string;
  readonly status: JobStatus;
  readonly output?: JobOutput;
  readonly error?: JobFailure;
}

export type { BatchMessage } from "./messages.js";

export interface BatchQueue {
  /** `delaySeconds` is capped at 15 minutes by SQS. */
  send(messages: readonly BatchMessage[], delaySeconds?: number): Promise<void>;
}

/** Sends many render messages at once (SQS SendMessageBatch, ten per call). */
export interface RenderMessageBatches {
  enqueueAll(messages: readonly RenderMessage[]): Promise<void>;
}

export interface BatchStore {
  /** `exists` when the id is taken (a retried submission). */
  create(batch: Batch): Promise<"created" | "exists">;
  get(tenant: string, id: string): Promise<Batch | undefined>;
  /** Records the batch's artifacts; fields already set are overwritten with the same values. */
  recordArtifacts(tenant: string, id: string, artifacts: BatchArtifacts): Promise<void>;
  /**
   * The jobs created so far for indexes `from`…`to` (inclusive, default all), ascending by index.
   * Reads the batch-jobs index: about 250 bytes per job, so 10,000 jobs are ~2.5 MB, three 1 MB
   * Query pages and ~310 read units (eventually consistent, 4 KB per half unit) per full read.
   */
  listJobs(tenant: string, batchId: string, range?: { from: number; to: number }): Promise<BatchJobEntry[]>;
  /**
   * True at most once per `intervalMs` for each `what`: `check` keeps polling clients from flooding the
   * fan-out queue with completion checks; `zip` and `merge` let one check build the zip or the merged
   * PDF while others skip it (a check that dies holding it is redelivered after the claim has lapsed).
   */
  claim(tenant: string, id: string, what: BatchClaim, now: Date, intervalMs: number): Promise<boolean>;
}

export type BatchClaim = "check" | "zip" | "merge";

/** One file of a zip archive. */
export interface ArchiveEntry {
  readonly name: string;
  readonly data: Uint8Array;
}

/** Objects in the outputs bucket: outputs are read back into the zip; manifest and zip are written. */
export interface BatchArtifactStore {
  read(key: string): Promise<Uint8Array | undefined>;
  put(key: string, body: Uint8Array, contentType: string, cacheControl: string): Promise<void>;
  /**
   * Writes a zip of `entries`, in the order they come, streamed: its size is bounded neither by memory
   * nor by the classic zip's 65,535 files and 4 GiB. Every entry is dated `modified`, so the same
   * entries give the same bytes. Returns the zip's size in bytes.
   */
  putZip(
    key: string,
    entries: AsyncIterable<ArchiveEntry>,
    modified: Date,
    cacheControl: string,
  ): Promise<number>;
}

// ---------------------------------------------------------------------------------------------------
// Keys and ids

function batchRequestKey(tenant: string, id: string): string {
  return `${BATCHES.payloadPrefix}${tenant}/${id}/request.json`;
}

function batchChunkKey(tenant: string, id: string, chunk: number): string {
  return `${BATCHES.payloadPrefix}${tenant}/${id}/chunk-${String(chunk).padStart(5, "0")}.json`;
}

export function batchManifestKey(tenant: string, id: string): string {
  return `${OUTPUTS.keyPrefix}${tenant}/batches/${id}/manifest.json`;
}

export function batchZipKey(tenant: string, id: string): string {
  return `${OUTPUTS.keyPrefix}${tenant}/batches/${id}/outputs.zip`;
}

/** The merged PDF's name in the manifest, and of its object. */
export const MERGED_PDF_FILE = "merged.pdf";

export function batchMergedKey(tenant: string, id: string): string {
  return `${OUTPUTS.keyPrefix}${tenant}/batches/${id}/${MERGED_PDF_FILE}`;
}

/**
 * The job id of record `index`: a name-based (version 5 style) UUID of tenant, batch and index, so
 * a redelivered chunk derives the same ids and `JobStore.create` answers `exists` instead of
 * creating a second job.
 */
export function batchJobId(tenant: string, batchId: string, index: number): string {
  const hash = createHash("sha1").update(`kiln-batch\u0000${tenant}\u0000${batchId}\u0000${index}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `[start, end)` of each chunk of `total` records. */
export function chunkRanges(total: number, size: number): Array<{ start: number; end: number }> {
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < total; start += size)
    ranges.push({ start, end: Math.min(total, start + size) });
  return ranges;
}

// ---------------------------------------------------------------------------------------------------
// Submission

export interface SubmitBatchDeps {
  readonly batches: BatchStore;
  readonly queue: BatchQueue;
  readonly payloads: PayloadStore;
  readonly idempotency: IdempotencyStore;
  readonly clock: Clock;
  readonly newId: () => string;
}

interface StoredChunk {
  readonly start: number;
  readonly records: readonly Record<string, unknown>[];
}

interface StoredBatchRequest {
  readonly request: BatchRequest;
  readonly callbackUrl?: string;
}

/**
 * Accepts a batch, at most once per Idempotency-Key, in the order submitRender uses so that a retry
 * can always finish it: the key's record fixes the batch id; the shared request and the chunks are
 * stored; the fan-out messages (and a first completion check) are sent; the batch record is written
 * last, so a batch that exists always has its fan-out behind it. 10,000 records are 40 chunk objects
 * and five SendMessageBatch calls: seconds, whatever the number of renders.
 */
export async function submitBatch(
  deps: SubmitBatchDeps,
  tenant: string,
  submission: BatchSubmission,
  records: readonly Record<string, unknown>[],
  idempotencyKey?: string,
): Promise<{ batch: Batch; replayed: boolean }> {
  const now = deps.clock.now();
  let id = deps.newId();
  if (idempotencyKey !== undefined) {
    const fingerprint = createHash("sha256")
      .update(`batch\u0000${JSON.stringify(submission)}`, "utf8")
      .digest("hex");
    const claim = await claimIdempotencyKey(deps.idempotency, tenant, idempotencyKey, fingerprint, id, now);
    id = claim.id;
    if (!claim.claimed) {
      const existing = await deps.batches.get(tenant, id);
      if (existing) return { batch: existing, replayed: true };
    }
  }

  const { records: _r, recordsKey: _k, callbackUrl, zip, mergePdf, ...request } = submission;
  const stored: StoredBatchRequest = { request, ...(callbackUrl ? { callbackUrl } : {}) };
  await deps.payloads.put(batchRequestKey(tenant, id), JSON.stringify(stored));
  const ranges = chunkRanges(records.length, BATCHES.chunkSize);
  await mapConcurrently(ranges, 8, async ({ start, end }, chunk) => {
    const body: StoredChunk = { start, records: records.slice(start, end) };
    await deps.payloads.put(batchChunkKey(tenant, id, chunk), JSON.stringify(body));
  });
  await deps.queue.send(ranges.map((_, chunk) => ({ kind: "chunk", tenant, batchId: id, chunk })));
  await deps.queue.send([{ kind: "check", tenant, batchId: id }], BATCHES.checkEverySeconds);

  const batch: Batch = {
    tenant,
    id,
    createdAt: now.toISOString(),
    total: records.length,
    chunkSize: BATCHES.chunkSize,
    zip: zip === true,
    mergePdf: mergePdf === true,
  };
  if ((await deps.batches.create(batch)) === "exists") {
    return { batch: (await deps.batches.get(tenant, id)) ?? batch, replayed: false };
  }
  return { batch, replayed: false };
}

// ---------------------------------------------------------------------------------------------------
// Fan-out

export interface FanOutDeps {
  readonly jobs: JobStore;
  readonly renderQueue: RenderMessageBatches;
  readonly payloads: PayloadStore;
  readonly clock: Clock;
}

/**
 * Creates and queues the jobs of one chunk. Jobs are written before their messages are sent; the
 * chunk's message is deleted only after both, so a fan-out that dies midway is redelivered, finds the
 * jobs it had created (`exists`, same ids) and sends all the chunk's messages again. A duplicate
 * render message is harmless: the worker's lease renders a job once and skips terminal ones.
 */
export async function fanOutChunk(
  deps: FanOutDeps,
  message: { tenant: string; batchId: string; chunk: number },
  requests: Map<string, Promise<StoredBatchRequest>> = new Map(),
): Promise<{ created: number; existing: number }> {
  const { tenant, batchId, chunk } = message;
  const requestKey = batchRequestKey(tenant, batchId);
  let shared = requests.get(requestKey);
  if (!shared) {
    shared = readJson<StoredBatchRequest>(deps.payloads, requestKey);
    requests.set(requestKey, shared);
  }
  const { request, callbackUrl } = await shared;
  const stored = await readJson<StoredChunk>(deps.payloads, batchChunkKey(tenant, batchId, chunk));
  const at = deps.clock.now().toISOString();
  let created = 0;
  const messages: RenderMessage[] = [];
  await mapConcurrently(stored.records, 10, async (data, i) => {
    const index = stored.start + i;
    const id = batchJobId(tenant, batchId, index);
    const full = { ...request, data };
    const { job: record, requestJson } = queuedJob({
      tenant,
      id,
      at,
      request: full,
      callbackUrl,
      batch: { id: batchId, index },
    });
    // A request small enough for the jobs table goes with the job to `create`, which stores it first.
    const job: Job = record.payloadKey ? record : { ...record, request: full };
    if (job.payloadKey) await deps.payloads.put(job.payloadKey, requestJson);
    if ((await deps.jobs.create(job)) === "created") created++;
    messages[i] = { tenant, jobId: id };
  });
  await deps.renderQueue.enqueueAll(messages);
  return { created, existing: stored.records.length - created };
}

async function readJson<T>(payloads: PayloadStore, key: string): Promise<T> {
  const text = await payloads.get(key);
  if (text === undefined) throw new Error(`batch payload ${key} is missing`);
  return JSON.parse(text) as T;
}

// ---------------------------------------------------------------------------------------------------
// Counts, status and manifest

export interface BatchCounts {
  /** Includes records whose job the fan-out has not created yet. */
  readonly queued: number;
  readonly rendering: number;
  readonly succeeded: number;
  readonly failed: number;
}

/**
 * Counts come from the jobs themselves (through the batch-jobs index), not from counters on the batch:
 * a job's terminal write is a single conditional write, so a worker killed right after it cannot leave
 * a count behind or have it applied twice, and dynalite needs no transactions for it.
 */
export function summarizeBatch(
  total: number,
  entries: readonly Pick<BatchJobEntry, "status">[],
): { counts: BatchCounts; status: BatchStatus; complete: boolean } {
  const counts = { queued: 0, rendering: 0, succeeded: 0, failed: 0 };
  for (const e of entries) counts[e.status]++;
  counts.queued += Math.max(0, total - entries.length);
  const done = counts.succeeded + counts.failed;
  const complete = done >= total;
  const status: BatchStatus = complete
    ? counts.failed === 0
      ? "succeeded"
      : counts.succeeded === 0
        ? "failed"
        : "partially_failed"
    : counts.rendering > 0 || done > 0
      ? "running"
      : "queued";
  return { counts, status, complete };
}

export interface ManifestEntry {
  readonly index: number;
  readonly jobId: string;
  readonly status: JobStatus;
  readonly output?: JobOutput;
  readonly error?: JobFailure;
}

export interface BatchManifest {
  readonly batchId: string;
  readonly createdAt: string;
  readonly total: number;
  readonly status: BatchStatus;
  readonly counts: BatchCounts;
  /** One per record, by index. */
  readonly entries: readonly ManifestEntry[];
  /** For a batch with `mergePdf`: the records in the merged PDF, in order, and those left out (failed). */
  readonly mergedPdf?: {
    readonly file: typeof MERGED_PDF_FILE;
    readonly records: readonly number[];
    readonly omitted: readonly number[];
  };
}

/** The manifest of a complete batch: a pure function of the (terminal, never changing) jobs. */
function buildManifest(batch: Batch, entries: readonly BatchJobEntry[]): BatchManifest {
  const { counts, status } = summarizeBatch(batch.total, entries);
  const sorted = [...entries]
    .sort((a, b) => a.index - b.index)
    .map((e) => ({
      index: e.index,
      jobId: e.jobId,
      status: e.status,
      ...(e.output ? { output: e.output } : {}),
      ...(e.error ? { error: e.error } : {}),
    }));
  return {
    batchId: batch.id,
    createdAt: batch.createdAt,
    total: batch.total,
    status,
    counts,
    entries: sorted,
    ...(batch.mergePdf
      ? {
          mergedPdf: {
            file: MERGED_PDF_FILE,
            records: sorted.filter((e) => e.output !== undefined).map((e) => e.index),
            omitted: sorted.filter((e) => e.output === undefined).map((e) => e.index),
          },
        }
      : {}),
  };
}

/** File name of record `index` in a zip or a download directory: zero-padded, so names sort by index. */
export function outputFileName(index: number, total: number, contentType: string): string {
  const width = Math.max(1, String(Math.max(0, total - 1)).length);
  return `${String(index).padStart(width, "0")}.${EXTENSIONS[contentType] ?? "bin"}`;
}

export interface CheckBatchDeps {
  readonly batches: BatchStore;
  readonly artifacts: BatchArtifactStore;
  readonly queue: BatchQueue;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Joins the outputs of a batch with `mergePdf`; without it such a batch records why there is none. */
  readonly merger?: PdfMerger;
  /** Seconds until the next check of a running batch. @default BATCHES.checkEverySeconds */
  readonly checkEverySeconds?: number;
}

/**
 * A completion check. A running batch is checked again later (for up to BATCHES.checkForHours); a
 * complete one gets its manifest and, when asked for, its zip. Both are written under fixed keys from
 * terminal jobs only, so a repeated or concurrent check writes the same bytes again.
 */
export async function checkBatch(
  deps: CheckBatchDeps,
  message: { tenant: string; batchId: string },
): Promise<"running" | "finished" | "abandoned" | "missing"> {
  const { tenant, batchId } = message;
  const batch = await deps.batches.get(tenant, batchId);
  const now = deps.clock.now();
  if (!batch) return "missing";
  if (batch.manifestKey && zipSettled(batch) && mergedSettled(batch)) return "finished";
  const entries = await deps.batches.listJobs(tenant, batchId);
  const { complete } = summarizeBatch(batch.total, entries);
  if (!complete) {
    const ageMs = now.getTime() - Date.parse(batch.createdAt);
    if (ageMs > BATCHES.checkForHours * 3600_000) {
      deps.logger.warn("batch still incomplete; no longer checked", { tenant, batchId });
      return "abandoned";
    }
    await deps.queue.send(
      [{ kind: "check", tenant, batchId }],
      deps.checkEverySeconds ?? BATCHES.checkEverySeconds,
    );
    return "running";
  }
  const manifest = buildManifest(batch, entries);
  const manifestJson = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`, "utf8");
  const manifestKey = batchManifestKey(tenant, batchId);
  if (!batch.manifestKey) {
    await deps.artifacts.put(manifestKey, manifestJson, "application/json", OUTPUTS.cacheControl);
    await deps.batches.recordArtifacts(tenant, batchId, { manifestKey });
  }
  const claimMs = BATCH_QUEUE.functionTimeoutSeconds * 1000;
  if (!mergedSettled(batch)) {
    if (!(await deps.batches.claim(tenant, batchId, "merge", now, claimMs))) return "running";
    await deps.batches.recordArtifacts(tenant, batchId, await mergeOutputs(deps, batch, manifest));
  }
  if (!zipSettled(batch)) {
    if (!(await deps.batches.claim(tenant, batchId, "zip", now, claimMs))) return "running";
    const zipKey = batchZipKey(tenant, batchId);
    const zipBytes = await deps.artifacts.putZip(
      zipKey,
      zipEntries(deps.artifacts, batch, manifest, manifestJson),
      new Date(batch.createdAt),
      OUTPUTS.cacheControl,
    );
    await deps.batches.recordArtifacts(tenant, batchId, { manifestKey, zipKey, zipBytes });
  }
  deps.logger.info("batch finished", { tenant, batchId, status: manifest.status });
  return "finished";
}

export function zipSettled(batch: Batch): boolean {
  return !batch.zip || batch.zipKey !== undefined || batch.zipError !== undefined;
}

export function mergedSettled(batch: Batch): boolean {
  return !batch.mergePdf || batch.mergedKey !== undefined || batch.mergedError !== undefined;
}

/**
 * The merged PDF of a complete batch: its succeeded outputs in record order, one bookmark each. A merge
 * the documents themselves refuse (over the page limit) is recorded as the reason; anything else is
 * thrown, so the check is redelivered.
 */
async function mergeOutputs(
  deps: CheckBatchDeps,
  batch: Batch,
  manifest: BatchManifest,
): Promise<BatchArtifacts> {
  if (!deps.merger) return { mergedError: "this deployment cannot merge PDFs." };
  if (!manifest.entries.some((e) => e.output !== undefined))
    return { mergedError: "no record was rendered." };
  const documents = async function* () {
    for await (const { entry, body } of succeededOutputs(deps.artifacts, batch, manifest)) {
      yield { title: `Record ${entry.index}`, name: `record ${entry.index}`, pdf: body };
    }
  };
  try {
    const merged = await deps.merger.merge(documents());
    const mergedKey = batchMergedKey(batch.tenant, batch.id);
    await deps.artifacts.put(mergedKey, merged, CONTENT_TYPES.pdf, OUTPUTS.cacheControl);
    return { mergedKey, mergedBytes: merged.byteLength };
  } catch (err) {
    if (!(err instanceof PermanentRenderError)) throw err;
    deps.logger.warn("batch merged PDF not made", {
      tenant: batch.tenant,
      batchId: batch.id,
      error: err.message,
    });
    return { mergedError: err.message };
  }
}

/** Each succeeded output's bytes in record order; reads run a few ahead of the consumer. */
async function* succeededOutputs(
  artifacts: BatchArtifactStore,
  batch: Batch,
  manifest: BatchManifest,
): AsyncGenerator<{ entry: ManifestEntry & { output: JobOutput }; body: Uint8Array }> {
  const succeeded = manifest.entries.filter(
    (e): e is ManifestEntry & { output: JobOutput } => e.output !== undefined,
  );
  const ahead = 8;
  const reads = new Map<number, Promise<Uint8Array | undefined>>();
  const start = (i: number) => {
    const e = succeeded[i];
    if (e && !reads.has(i)) reads.set(i, artifacts.read(e.output.key));
  };
  for (let i = 0; i < succeeded.length; i++) {
    for (let j = i; j < Math.min(succeeded.length, i + ahead); j++) start(j);
    const entry = succeeded[i] as ManifestEntry & { output: JobOutput };
    const body = await reads.get(i);
    reads.delete(i);
    if (!body) throw new Error(`output ${entry.output.key} of batch ${batch.id} is missing`);
    yield { entry, body };
  }
}

/** The zip's files in order: each succeeded output under its index, then the manifest. */
async function* zipEntries(
  artifacts: BatchArtifactStore,
  batch: Batch,
  manifest: BatchManifest,
  manifestJson: Uint8Array,
): AsyncGenerator<ArchiveEntry> {
  for await (const { entry, body } of succeededOutputs(artifacts, batch, manifest)) {
    yield { name: outputFileName(entry.index, batch.total, entry.output.contentType), data: body };
  }
  yield { name: "manifest.json", data: manifestJson };
}

// ---------------------------------------------------------------------------------------------------
// How the API shows a batch

export interface BatchView {
  readonly id: string;
  readonly status: BatchStatus;
  readonly total: number;
  readonly createdAt: string;
  readonly counts: BatchCounts;
  /** Once the batch is complete: a signed URL of the manifest object (see BatchManifest). */
  readonly manifest?: { readonly url: string; readonly expiresAt: string; readonly entries: number };
  /** Only for batches submitted with `zip: true`. */
  readonly zip?: BatchArtifactState;
  /** Only for batches submitted with `mergePdf: true`. */
  readonly mergedPdf?: BatchArtifactState;
}

export type BatchArtifactState =
  | { readonly state: "pending" }
  | { readonly state: "ready"; readonly url: string; readonly expiresAt: string; readonly bytes?: number }
  | { readonly state: "failed"; readonly message: string };

export interface BatchOutputItem {
  readonly index: number;
  readonly jobId: string;
  readonly status: JobStatus;
  readonly output?: {
    readonly url: string;
    readonly expiresAt: string;
    readonly contentType: string;
    readonly bytes: number;
    readonly sha256: string;
  };
  readonly error?: JobFailure;
}

/** A page of GET /v1/batches/{id}/outputs; `next` is the start of the following page. */
export interface BatchOutputsPage {
  readonly items: readonly BatchOutputItem[];
  readonly next?: number;
}
