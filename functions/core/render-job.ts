import { createHash, randomUUID } from "node:crypto";
import { OUTPUTS } from "./constants.js";
import { isPermanent, KilnError, PermanentRenderError } from "./errors.js";
import { isTerminal, type Job, type JobFailure, leaseIsLive } from "./job.js";
import type { OutputOptions } from "./output-options.js";
import { type FinishingDeps, finishRendered, holdsPasswords, redactPasswords } from "./pdf-finishing.js";
import type {
  Clock,
  JobStore,
  ObjectStore,
  PayloadStore,
  Renderer,
  RenderMessage,
  TenantSettingsStore,
  WebhookQueue,
  WriteResult,
} from "./ports.js";
import {
  type DocumentDeps,
  type PreparedDocument,
  prepareDocument,
  prepareLivePage,
} from "./prepare-document.js";
import {
  cacheEntryExpiry,
  canonicalJson,
  inputDigests,
  type Provenance,
  provenanceOf,
  type RenderCache,
  renderBypassReason,
} from "./render-cache.js";
import { CONTENT_TYPES, type OutputFormat, type RenderRequest } from "./render-request.js";
import type { RendererIdentity } from "./renderer-identity.js";
import { type RetryPolicy, retryDelaySeconds, type StoreRetry, withStoreRetry } from "./retry-policy.js";
import type { TenantSettings } from "./tenant-settings.js";
import type { RenderedDocument } from "./url-source.js";

/** Failure codes the worker itself records (the renderer and hydration add their own). */
export const FAILURE_CODES = {
  /** Transient failures used up every attempt; the message names the last one. */
  renderFailed: "render_failed",
  /** The worker of the last attempt stopped (killed, out of memory, timed out) and none are left. */
  workerLost: "worker_lost",
  /** The job's request is no longer stored (in the jobs table, or the payload store for large ones). */
  requestMissing: "request_missing",
  /** The reason an attempt records for an error that is not Kiln's own (a crash, a dropped connection). */
  transientError: "transient_error",
  /**
   * Recorded by the reconciler: the job stayed unfinished past every delivery its message could have
   * had (its message is gone: dead-lettered, or its last worker died after the final delivery).
   */
  stuck: "stuck",
} as const;

export interface LeaseSettings {
  /** How long a lease lasts from its last renewal. Shorter than the message's hold, see the handler. */
  readonly leaseMs: number;
  /** How often the holder renews it while rendering. */
  readonly renewEveryMs: number;
}

export interface RenderJobDeps extends DocumentDeps, FinishingDeps {
  readonly jobs: JobStore;
  readonly renderer: Renderer;
  readonly outputs: ObjectStore;
  readonly payloads: PayloadStore;
  readonly webhooks: WebhookQueue;
  readonly clock: Clock;
  readonly lease: LeaseSettings;
  readonly retry: RetryPolicy;
  readonly storeRetry?: StoreRetry;
  readonly newAttemptId?: () => string;
  readonly random?: () => number;
  /** How the last delivery waits out a lease. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** This worker's renderer, recorded in every output's provenance and part of every cache key. */
  readonly rendererIdentity?: RendererIdentity;
  /** Where outputs are offered to later jobs with the same inputs; without it none are. */
  readonly renderCache?: {
    readonly entries: RenderCache;
    /** Outputs are kept at least this long after their PUT: an entry lasts no longer. */
    readonly jobRetentionDays: number;
  };
}

export interface Delivery {
  /** How many times the queue has delivered this message, this delivery included. */
  readonly receiveCount: number;
  /** Deliveries after which the queue moves the message to the dead-letter queue. */
  readonly maxReceiveCount: number;
}

/**
 * - `done`: the job is terminal (now or already); the message can be deleted.
 * - `retry`: leave the message for redelivery after `retryAfterSeconds`.
 * - `dead-letter`: the last delivery; the job has been settled as failed where it could be, and the
 *   message is left to move to the dead-letter queue, where operators can inspect and redrive it.
 */
export type RenderJobResult =
  | {
      readonly outcome: "done";
      readonly status: "succeeded";
      readonly format: OutputFormat;
      readonly bytes: number;
    }
  | { readonly outcome: "done"; readonly status: "failed"; readonly code: string }
  | { readonly outcome: "done"; readonly status: "skipped" }
  | { readonly outcome: "retry"; readonly error: Error; readonly retryAfterSeconds: number }
  | { readonly outcome: "dead-letter"; readonly error: Error; readonly code?: string };

const EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  png: "png",
  jpeg: "jpg",
  webp: "webp",
  pdf: "pdf",
};

/** Content-addressed, tenant-scoped output key: identical output bytes share one object per tenant. */
export function outputKey(tenant: string, sha256: string, format: OutputFormat): string {
  return `${OUTPUTS.keyPrefix}${tenant}/${sha256}.${EXTENSIONS[format]}`;
}

/** Receives that may render; the one after them only settles the job. */
export function renderAttemptsFor(maxReceiveCount: number): number {
  return Math.max(1, maxReceiveCount - 1);
}

/**
 * One delivery of a render message. Deliveries before the last render under a lease on the job
 * record; the last one renders nothing and fails the job if it is still not terminal, so that a
 * worker dying on its final attempt cannot leave a job unfinished once the message is dead-lettered.
 */
export async function renderJob(
  deps: RenderJobDeps,
  message: RenderMessage,
  delivery: Delivery,
): Promise<RenderJobResult> {
  if (delivery.receiveCount > renderAttemptsFor(delivery.maxReceiveCount)) {
    return settleLastDelivery(deps, message);
  }
  const { jobs, clock } = deps;
  const store = <T>(call: () => Promise<T>) => withStoreRetry(call, deps.storeRetry, deps.random);
  const owner = (deps.newAttemptId ?? randomUUID)();
  const backoff = () => retryDelaySeconds(deps.retry, delivery.receiveCount, deps.random);

  const start = await startWhenPresent(deps, message, owner);
  if (start.kind === "missing") {
    // Either the API has not written the job yet (it sends the message first), or it never will.
    return retry(new Error(`job ${message.jobId} does not exist (yet)`), backoff());
  }
  if (start.kind === "terminal") {
    await ensureWebhookQueued(deps, start.job);
    // An attempt that ended the job but could not redact its passwords left the message for this.
    if (!(await forgetPasswords(deps, start.job))) {
      return retry(
        new Error(`job ${message.jobId} ended but its passwords could not be redacted`),
        backoff(),
      );
    }
    return { outcome: "done", status: "skipped" };
  }
  if (start.kind === "leased") {
    const remainingMs = (start.job.lease?.expiresAtMs ?? 0) - clock.now().getTime();
    return retry(
      new Error(`job ${message.jobId} is being rendered by another attempt`),
      Math.max(1, Math.ceil(remainingMs / 1000)),
    );
  }

  const job = start.job;
  const lease = keepLease(deps, job, owner, job.lease?.expiresAtMs ?? 0);
  let loaded: RenderRequest | undefined;
  try {
    const { request, documentDeps } = await loadRequest(deps, job);
    loaded = request;
    // A template (its version, assets signed now, hydration) or a live page: what Chromium renders.
    const {
      rendered,
      output: prepared,
      document,
      used,
    } = await renderRequest(deps.renderer, documentDeps, job.tenant, request);
    const parts = await renderParts(documentDeps, deps.renderer, job.tenant, request);
    // Parts, metadata, stamps, attachments, PDF/A and encryption, after Chromium; from the prepared
    // output, whose PDF metadata has the template version's under the job's.
    const body = await finishRendered(deps, job.tenant, { ...request, output: prepared }, rendered, parts);
    const sha256 = createHash("sha256").update(body).digest("hex");
    const provenance =
      deps.rendererIdentity &&
      provenanceOf(inputDigests(request, used?.templateSha256, used?.assets ?? {}), deps.rendererIdentity);
    const contentType = CONTENT_TYPES[request.output.format];
    const key = outputKey(job.tenant, sha256, request.output.format);

    // Fence: hold a fresh lease while writing, so that no other attempt can take the job over between
    // this check and markSucceeded and write an output of its own.
    if (!(await lease.ensureFresh())) {
      return retry(new Error(`job ${job.id}: the lease was lost while rendering`), backoff());
    }
    const putAt = clock.now();
    await store(() => deps.outputs.put({ key, body, contentType, cacheControl: OUTPUTS.cacheControl }));
    const output = {
      key,
      contentType,
      bytes: body.byteLength,
      sha256,
      ...(document ? { document } : {}),
      // Only where it says more than the job's own (a batch record's, or inputs changed since
      // submission): the job item stays under 1 KB, one write unit per state change.
      ...(provenance && !sameProvenance(provenance, job.provenance) ? { provenance } : {}),
    };
    // Before the job succeeds, so that a client who saw it succeed finds its output in the cache.
    if (provenance && used) await offerToCache(deps, job, request, used, provenance, output, putAt);
    const written = await store(() =>
      jobs.markSucceeded(job.tenant, job.id, owner, output, clock.now(), job.callbackUrl !== undefined),
    );
    const mine =
      written.applied || (written.job?.status === "succeeded" && written.job.output?.sha256 === sha256);
    if (!mine) {
      // Only a broken clock lets this happen: someone else finished the job while we held the lease.
      return retry(new Error(`job ${job.id} was finished by another attempt`), backoff());
    }
    if (!(await notify(deps, written.job))) {
      return retry(new Error(`job ${job.id} succeeded but its webhook could not be queued`), backoff());
    }
    if (!(await forgetPasswords(deps, job, request))) {
      return retry(new Error(`job ${job.id} succeeded but its passwords could not be redacted`), backoff());
    }
    return { outcome: "done", status: "succeeded", format: request.output.format, bytes: body.byteLength };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    if (isPermanent(error)) {
      const failure = { code: error.code, message: error.message };
      const written = await store(() =>
        jobs.markFailed(job.tenant, job.id, failure, clock.now(), { owner }, job.callbackUrl !== undefined),
      );
      if (!failedByUs(written, failure)) {
        return retry(
          new Error(`job ${job.id}: the lease was lost before the failure was recorded`),
          backoff(),
        );
      }
      if (!(await notify(deps, written.job))) {
        return retry(new Error(`job ${job.id} failed but its webhook could not be queued`), backoff());
      }
      if (!(await forgetPasswords(deps, job, loaded))) {
        return retry(new Error(`job ${job.id} failed but its passwords could not be redacted`), backoff());
      }
      return { outcome: "done", status: "failed", code: error.code };
    }
    if (job.attempts < renderAttemptsFor(delivery.maxReceiveCount)) {
      // Transient: free the job for the next delivery at once and remember why this attempt failed.
      const released = await store(() =>
        jobs.releaseLease(job.tenant, job.id, owner, describe(error), clock.now()),
      ).catch(() => undefined);
      // Refused: the lease is someone else's now (the failure below is refused too), or the message
      // had its final delivery while this attempt ran and no delivery is left to take the job over.
      if (released !== false) return retry(error, backoff());
    }
    // The last render attempt, or one whose message had its final delivery while it ran (dead-lettered
    // because this attempt held the lease), settles its own job: released, it would stay rendering
    // with nothing left to finish it.
    const failure = finalFailure({ ...job, lease: undefined, lastError: describe(error) });
    const written = await store(() =>
      jobs.markFailed(job.tenant, job.id, failure, clock.now(), { owner }, job.callbackUrl !== undefined),
    ).catch(() => undefined);
    if (written && failedByUs(written, failure)) {
      await notify(deps, written.job);
      await forgetPasswords(deps, job, loaded);
    }
    // The next delivery, if any, finds the job failed and dead-letters the message.
    return retry(error, backoff());
  } finally {
    lease.stop();
  }
}

/**
 * A template: its version, assets signed now, hydration, then the HTML rendered, with what it was made
 * from. A live page: its secrets decrypted, then captured, with the document it was rendered from.
 */
async function renderRequest(
  renderer: Renderer,
  deps: DocumentDeps,
  tenant: string,
  request: RenderRequest,
): Promise<{
  rendered: Uint8Array;
  output: OutputOptions;
  document?: RenderedDocument;
  used?: PreparedDocument["used"];
}> {
  if (request.source) {
    const page = await prepareLivePage(deps, tenant, request);
    const captured = await renderer.capture(page.live, page.output, page.page);
    return { rendered: captured.bytes, output: page.output, document: captured.document };
  }
  const prepared = await prepareDocument(deps, tenant, request);
  return {
    rendered: await renderer.render(prepared.html, prepared.output, prepared.page),
    output: prepared.output,
    used: prepared.used,
  };
}

/**
 * Offers a new output to later jobs with the same inputs, under the key of what this render used,
 * unless the render-cache rules keep it out (render-cache.ts). The entry is conditional (the first
 * output of a key stays, and it is the same bytes) and lasts no longer than the output. Losing it
 * costs one render later, never a wrong output, so a failed write does not fail the job.
 */
async function offerToCache(
  deps: RenderJobDeps,
  job: Job,
  request: RenderRequest,
  used: PreparedDocument["used"],
  provenance: Provenance,
  output: Job["output"] & object,
  putAt: Date,
): Promise<void> {
  const cache = deps.renderCache;
  if (!cache) return;
  const now = deps.clock.now();
  if (renderBypassReason({ request, html: used.source, ...used, now })) return;
  const entry = {
    key: provenance.cacheKey,
    sourceJobId: job.id,
    output: { ...output, provenance },
    createdAt: now.toISOString(),
    expiresAt: cacheEntryExpiry(putAt, cache.jobRetentionDays),
  };
  await withStoreRetry(() => cache.entries.put(job.tenant, entry, now), deps.storeRetry, deps.random).catch(
    () => undefined,
  );
}

const sameProvenance = (a: Provenance, b: Provenance | undefined) =>
  b !== undefined && canonicalJson(a) === canonicalJson(b);

function retry(error: Error, retryAfterSeconds: number): RenderJobResult {
  return { outcome: "retry", error, retryAfterSeconds };
}

/** The message can arrive a moment before the API has written the job: look again briefly. */
async function startWhenPresent(deps: RenderJobDeps, message: RenderMessage, owner: string) {
  const { jobs, clock } = deps;
  for (let look = 1; ; look++) {
    const now = clock.now();
    const result = await withStoreRetry(
      () =>
        jobs.startAttempt(
          message.tenant,
          message.jobId,
          { owner, expiresAtMs: now.getTime() + deps.lease.leaseMs },
          now,
        ),
      deps.storeRetry,
      deps.random,
    );
    // The job record is written right after the message is sent (its request item first): the first
    // look often comes a few milliseconds early, so the looks start short (10, 20, 40, 80 ms).
    if (result.kind !== "missing" || look >= 5) return result;
    await new Promise((r) => setTimeout(r, 10 * 2 ** (look - 1)));
  }
}

/**
 * The delivery after the last render attempt: fail the job with the last reason unless it is terminal
 * already or an attempt is still alive, and let the message go to the dead-letter queue. It marks the
 * job first, so that an attempt still alive ends the job rather than release it for a delivery that
 * will not come.
 */
async function settleLastDelivery(deps: RenderJobDeps, message: RenderMessage): Promise<RenderJobResult> {
  const { jobs, clock } = deps;
  const store = <T>(call: () => Promise<T>) => withStoreRetry(call, deps.storeRetry, deps.random);
  let job = await store(() => jobs.get(message.tenant, message.jobId));
  if (job && !isTerminal(job.status)) {
    // The record as marked: a lease released before the mark shows here as gone.
    const marked = await store(() => jobs.markFinalDelivery(message.tenant, message.jobId, clock.now()));
    job = marked.job;
  }
  if (!job) {
    return { outcome: "dead-letter", error: new Error(`job ${message.jobId} does not exist`) };
  }
  if (job.lease && !isTerminal(job.status) && leaseIsLive(job, clock.now().getTime())) {
    // This is the job's last chance to be settled, and the lease may belong to an attempt that is
    // already dead: killed a moment ago, or one whose release could not be written. Wait it out once.
    // A lease renewed meanwhile belongs to a live attempt, which finishes the job (see the mark above).
    const leftMs = job.lease.expiresAtMs - clock.now().getTime();
    await (deps.sleep ?? sleep)(Math.min(leftMs, deps.lease.leaseMs) + LEASE_MARGIN_MS);
    job = await store(() => jobs.get(message.tenant, message.jobId));
    if (!job) return { outcome: "dead-letter", error: new Error(`job ${message.jobId} does not exist`) };
  }
  if (isTerminal(job.status)) {
    await ensureWebhookQueued(deps, job);
    // A job that ran out of attempts keeps its message in the dead-letter queue, failed by its last
    // attempt or here.
    if (job.status === "failed" && job.error) {
      return { outcome: "dead-letter", error: new Error(job.error.message), code: job.error.code };
    }
    return { outcome: "done", status: "skipped" };
  }
  const now = clock.now();
  if (leaseIsLive(job, now.getTime())) {
    // Its holder cannot release the job any more (it is marked): it succeeds or fails it.
    return { outcome: "dead-letter", error: new Error(`job ${job.id} is still being rendered`) };
  }
  const failure = finalFailure(job);
  const written = await store(() =>
    jobs.markFailed(
      job.tenant,
      job.id,
      failure,
      now,
      { leaseExpiredAtMs: now.getTime() },
      job.callbackUrl !== undefined,
    ),
  );
  if (failedByUs(written, failure)) await notify(deps, written.job);
  return { outcome: "dead-letter", error: new Error(failure.message), code: failure.code };
}

/** Past a lease's expiry, so that the clock read after the wait sees it over. */
const LEASE_MARGIN_MS = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

function failedByUs(written: WriteResult, failure: JobFailure): boolean {
  return (
    written.applied ||
    (written.job?.status === "failed" &&
      written.job.error?.code === failure.code &&
      written.job.error.message === failure.message)
  );
}

function finalFailure(job: Job): JobFailure {
  const attempts = job.attempts;
  const last = job.lastError
    ? ` The last error was ${job.lastError.code}: ${clip(job.lastError.message)}`
    : "";
  if (job.lease) {
    // The lease was never released: the last attempt's worker stopped mid-render.
    return {
      code: FAILURE_CODES.workerLost,
      message: `The worker stopped during attempt ${attempts} (crashed, killed or timed out) and no attempts are left.${last}`,
    };
  }
  if (job.lastError) {
    return {
      code: FAILURE_CODES.renderFailed,
      message: `Rendering failed after ${attempts} attempts: ${clip(job.lastError.message)}`,
    };
  }
  return {
    code: FAILURE_CODES.renderFailed,
    message: `No render attempt could be started in ${attempts === 0 ? "any" : attempts} deliveries.`,
  };
}

/** A Kiln error keeps its code; anything else (a crash, a dropped connection) is a transient error. */
function describe(error: Error): JobFailure {
  return {
    code: error instanceof KilnError ? error.code : FAILURE_CODES.transientError,
    message: clip(error.message),
  };
}

function clip(message: string): string {
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

/**
 * The request is read once per attempt: the job record that the state changes rewrite does not hold
 * it. Where the job store keeps the tenant's settings too, they come in the same read, and the
 * document is prepared with the settings as read.
 */
async function loadRequest(
  deps: RenderJobDeps,
  job: Job,
): Promise<{ request: RenderRequest; documentDeps: DocumentDeps }> {
  const store = <T>(call: () => Promise<T>) => withStoreRetry(call, deps.storeRetry, deps.random);
  const key = job.payloadKey;
  const readTogether = deps.settings && !key ? deps.jobs.getRequestAndSettings?.bind(deps.jobs) : undefined;
  let documentDeps: DocumentDeps = deps;
  let request: RenderRequest | undefined;
  if (readTogether) {
    const read = await store(() => readTogether(job.tenant, job.id));
    request = read.request;
    documentDeps = { ...deps, settings: settingsAsRead(read.settings) };
  } else {
    request = await readStoredRequest(deps, job);
  }
  if (request === undefined) {
    throw new PermanentRenderError(
      FAILURE_CODES.requestMissing,
      key
        ? "The request of this job is no longer in the payload store."
        : "The request of this job is no longer stored.",
    );
  }
  return { request, documentDeps };
}

/**
 * The template parts of `output.pdf.parts`, by index, each prepared and rendered like the job's own
 * document (same data rules, clock and readiness) with its own page options.
 */
async function renderParts(
  documentDeps: DocumentDeps,
  renderer: Renderer,
  tenant: string,
  request: RenderRequest,
): Promise<Map<number, Uint8Array>> {
  const rendered = new Map<number, Uint8Array>();
  const parts = request.output.format === "pdf" ? (request.output.pdf?.parts ?? []) : [];
  for (const [index, part] of parts.entries()) {
    if (!part.template) continue;
    const document = await prepareDocument(documentDeps, tenant, {
      ...request,
      template: part.template,
      data: part.data ?? {},
      assets: part.assets,
      output: { ...request.output, pdf: part.pdf },
    });
    rendered.set(index, await renderer.render(document.html, document.output, document.page));
  }
  return rendered;
}

/** The job's request from where it is kept: the payload store for large ones, else the job store. */
function readStoredRequest(deps: RenderJobDeps, job: Job): Promise<RenderRequest | undefined> {
  const key = job.payloadKey;
  return withStoreRetry(
    () =>
      key
        ? deps.payloads
            .get(key)
            .then((text) => (text === undefined ? undefined : (JSON.parse(text) as RenderRequest)))
        : deps.jobs.getRequest(job.tenant, job.id),
    deps.storeRetry,
    deps.random,
  );
}

/**
 * Once the job has ended its PDF passwords are of no more use: the stored request keeps them redacted.
 * False when that could not be written (the message is then left for a delivery that tries again).
 */
async function forgetPasswords(deps: RenderJobDeps, job: Job, known?: RenderRequest): Promise<boolean> {
  try {
    const request = known ?? (await readStoredRequest(deps, job));
    if (!request || !holdsPasswords(request)) return true;
    const redacted = redactPasswords(request);
    const key = job.payloadKey;
    await withStoreRetry(
      () =>
        key
          ? deps.payloads.put(key, JSON.stringify(redacted))
          : deps.jobs.redactRequest(job.tenant, job.id, redacted),
      deps.storeRetry,
      deps.random,
    );
    return true;
  } catch {
    return false;
  }
}

/** The tenant's settings as read with the request, so that preparing the document does not read them again. */
function settingsAsRead(settings: TenantSettings | undefined): TenantSettingsStore {
  return {
    get: async () => settings,
    put: () => Promise.reject(new Error("The settings read with a job's request cannot be changed.")),
  };
}

/** Queues the first webhook delivery of a job that this attempt made terminal. */
async function notify(deps: RenderJobDeps, job: Job | undefined): Promise<boolean> {
  if (!job?.callbackUrl) return true;
  try {
    await withStoreRetry(
      () =>
        deps.webhooks.enqueue({
          tenant: job.tenant,
          jobId: job.id,
          attempt: 1,
          ...(job.correlationId ? { correlationId: job.correlationId } : {}),
        }),
      deps.storeRetry,
      deps.random,
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * A redelivered message of a terminal job: if the attempt that finished it died before queueing the
 * webhook (state still `pending`, nothing tried), queue it now. A duplicate is harmless: the
 * dispatcher skips attempts already made, and receivers dedupe on webhook-id.
 */
async function ensureWebhookQueued(deps: RenderJobDeps, job: Job): Promise<void> {
  if (job.callbackUrl && job.webhook?.state === "pending" && job.webhook.attempts.length === 0) {
    await notify(deps, job);
  }
}

/** Renews the lease while the attempt runs; `ensureFresh` renews now unless plenty of it is left. */
function keepLease(deps: RenderJobDeps, job: Job, owner: string, initialExpiresAtMs: number) {
  const { jobs, clock, lease } = deps;
  let expiresAtMs = initialExpiresAtMs;
  let lost = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const renew = async (): Promise<void> => {
    const now = clock.now();
    const next = { owner, expiresAtMs: now.getTime() + lease.leaseMs };
    try {
      if (await jobs.renewLease(job.tenant, job.id, next, now)) expiresAtMs = next.expiresAtMs;
      else lost = true;
    } catch {
      // The next beat tries again; the fence before writing catches a lease that really lapsed.
    }
  };
  const beat = async () => {
    await renew();
    if (!stopped && !lost) timer = setTimeout(beat, lease.renewEveryMs);
  };
  timer = setTimeout(beat, lease.renewEveryMs);

  return {
    async ensureFresh(): Promise<boolean> {
      if (lost) return false;
      if (expiresAtMs - clock.now().getTime() > lease.leaseMs / 2) return true;
      try {
        const now = clock.now();
        const next = { owner, expiresAtMs: now.getTime() + lease.leaseMs };
        const ok = await withStoreRetry(
          () => jobs.renewLease(job.tenant, job.id, next, now),
          deps.storeRetry,
          deps.random,
        );
        if (ok) expiresAtMs = next.expiresAtMs;
        else lost = true;
        return ok;
      } catch {
        return false;
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
