import { createHash } from "node:crypto";
import { type AssetStore, headJobAssets } from "./assets.js";
import { PAYLOADS } from "./constants.js";
import { ValidationError } from "./errors.js";
import { claimIdempotencyKey } from "./idempotency.js";
import type { Job, JobBatchRef } from "./job.js";
import type {
  Clock,
  IdempotencyStore,
  JobStore,
  PayloadStore,
  RenderQueue,
  SecretCipher,
  TenantSettingsStore,
  WebhookQueue,
} from "./ports.js";
import {
  inputDigests,
  type JobCache,
  type Provenance,
  provenanceOf,
  type RenderCache,
  type RenderCacheEntry,
  requestBypassReason,
} from "./render-cache.js";
import { LIMITS, type RenderRequest, type RenderSubmission } from "./render-request.js";
import type { RendererIdentity } from "./renderer-identity.js";
import type { TemplateVersion } from "./templates.js";
import { sealPageSecrets } from "./url-source.js";

/** What the api needs to serve a job from the render cache (render-cache.ts). */
export interface SubmitCacheDeps {
  readonly entries: RenderCache;
  /** The renderer the workers run: part of every key. */
  readonly rendererIdentity: RendererIdentity;
  /** The stored versions of a job's assets; without it a job naming assets always misses. */
  readonly assets?: AssetStore;
  /** The tenant's egress allowlist decides whether a template may load what Kiln cannot digest. */
  readonly settings?: TenantSettingsStore;
  /** A hit's webhook is queued here, as the worker queues a rendered job's. */
  readonly webhooks: WebhookQueue;
}

export interface SubmitRenderDeps {
  readonly jobs: JobStore;
  readonly queue: RenderQueue;
  readonly payloads: PayloadStore;
  readonly idempotency: IdempotencyStore;
  readonly clock: Clock;
  readonly newId: () => string;
  /** Encrypts a URL job's headers and cookies before anything is stored. */
  readonly pageSecrets?: SecretCipher;
  /** The render cache; without it every job is queued. */
  readonly renderCache?: SubmitCacheDeps;
}

export interface SubmitRenderResult {
  readonly job: Job;
  /** The Idempotency-Key named a job that already existed: nothing new was queued. */
  readonly replayed: boolean;
}

/** Printable ASCII, like the header values clients generate (UUIDs, ULIDs, hashes). */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

export function checkIdempotencyKey(key: string): string {
  const trimmed = key.trim();
  if (!KEY_PATTERN.test(trimmed)) {
    throw new ValidationError([
      { field: "Idempotency-Key", message: "must be 1 to 255 printable ASCII characters" },
    ]);
  }
  return trimmed;
}

/** Same body ⇔ same fingerprint: the parsed request, so whitespace and the order of known fields do not matter. */
export function requestFingerprint(submission: RenderSubmission): string {
  return createHash("sha256").update(JSON.stringify(submission), "utf8").digest("hex");
}

export function payloadKey(tenant: string, id: string): string {
  return `${PAYLOADS.keyPrefix}${tenant}/${id}.json`;
}

/**
 * A job as accepted: queued, no attempt yet. A request too large for the jobs table is named by its
 * payload-store key, which the caller writes `requestJson` to; a smaller one is the caller's to store
 * (`JobStore.storeRequest`, or on the job given to `JobStore.create`).
 */
export function queuedJob(fields: {
  tenant: string;
  id: string;
  /** ISO-8601 instant of acceptance. */
  at: string;
  request: RenderRequest;
  callbackUrl?: string;
  correlationId?: string;
  batch?: JobBatchRef;
}): { job: Job; requestJson: string } {
  const { tenant, id, at, request, callbackUrl, correlationId, batch } = fields;
  const requestJson = JSON.stringify(request);
  const large = Buffer.byteLength(requestJson, "utf8") > LIMITS.inlineRequestBytes;
  const job: Job = {
    tenant,
    id,
    status: "queued",
    createdAt: at,
    updatedAt: at,
    attempts: 0,
    ...(large ? { payloadKey: payloadKey(tenant, id) } : {}),
    ...(callbackUrl ? { callbackUrl } : {}),
    ...(correlationId ? { correlationId } : {}),
    ...(batch ? { batch } : {}),
  };
  return { job, requestJson };
}

/**
 * Accepts a render, at most once per Idempotency-Key, without transactions. The writes go in an order
 * that a retry can always finish:
 *
 * 1. the idempotency record (conditional put) fixes the job id for the key;
 * 2. a large request is put in the payload store under a key derived from that id;
 * 3. the render message is sent;
 * 4. the job is created: its request (unless in the payload store), then the job record
 *    (conditional put) — `JobStore.create` writes them in that order.
 *
 * A job record therefore always has a message and its request behind it. If a request dies between steps, its retry
 * finds the record without a job and performs steps 2–4 again for the same id; the message that may
 * already have been sent is a harmless duplicate (the worker's lease makes it render once), and a
 * message whose job is never written is retried by the worker and then dead-lettered.
 *
 * A request the render cache holds an output for is created `succeeded` with that output instead of
 * step 3; its webhook, if any, is queued after the record exists (a retry with the same
 * Idempotency-Key queues it again while no delivery has been tried: receivers dedupe on webhook-id).
 */
export async function submitRender(
  deps: SubmitRenderDeps,
  tenant: string,
  submission: RenderSubmission,
  idempotencyKey?: string,
  /** Kept on the job and carried in its render message. */
  correlationId?: string,
  /** The stored template version the request names, as checked at submission. */
  template?: TemplateVersion,
): Promise<SubmitRenderResult> {
  const { jobs, queue, payloads, idempotency, clock } = deps;
  const now = clock.now();
  let id = deps.newId();

  if (idempotencyKey !== undefined) {
    const fingerprint = requestFingerprint(submission);
    const claim = await claimIdempotencyKey(idempotency, tenant, idempotencyKey, fingerprint, id, now);
    id = claim.id;
    if (!claim.claimed) {
      const existing = await jobs.get(tenant, id);
      if (existing) {
        if (deps.renderCache && existing.cache?.state === "hit")
          await queueHitWebhook(deps.renderCache, existing);
        return { job: existing, replayed: true };
      }
    }
  }

  const { callbackUrl, ...submitted } = submission;
  // Sealed after the fingerprint, which is of what the client sent (a ciphertext differs every time).
  const request: RenderRequest = submitted.source
    ? { ...submitted, source: await sealPageSecrets(deps.pageSecrets, tenant, submitted.source) }
    : submitted;
  const at = now.toISOString();
  const queued = queuedJob({ tenant, id, at, request, callbackUrl, correlationId });
  const { requestJson } = queued;
  const lookup = deps.renderCache && (await lookUpCache(deps.renderCache, tenant, request, template, now));
  const job: Job = lookup
    ? servedFromCache(
        {
          ...queued.job,
          cache: lookup.cache,
          ...(lookup.provenance ? { provenance: lookup.provenance } : {}),
        },
        lookup.entry,
      )
    : queued.job;
  // The request first, then the message, then the record: the worker that gets the message a moment
  // before the record exists looks again shortly, so only one write should separate them.
  if (job.payloadKey) await payloads.put(job.payloadKey, requestJson);
  else await jobs.storeRequest(tenant, id, request, at);
  if (job.status === "queued") {
    await queue.enqueue({ tenant, jobId: id, ...(correlationId ? { correlationId } : {}) });
  }
  const created = await jobs.create(job);
  if (deps.renderCache && job.cache?.state === "hit") await queueHitWebhook(deps.renderCache, job);
  if (created === "exists") {
    // A concurrent retry with the same key got there first: it is the same job.
    return { job: (await jobs.get(tenant, id)) ?? job, replayed: false };
  }
  return { job, replayed: false };
}

/**
 * The cache's answer for a request: a bypass (with the reason), or a miss or hit with the provenance
 * the api knows — the template version's content hash, the data, the assets' stored versions (one
 * HEAD each), the options and the renderer. One GetItem looks the key up.
 */
async function lookUpCache(
  cache: SubmitCacheDeps,
  tenant: string,
  request: RenderRequest,
  template: TemplateVersion | undefined,
  now: Date,
): Promise<{ cache: JobCache; provenance?: Provenance; entry?: RenderCacheEntry }> {
  const settings = request.cache === false || request.source ? undefined : await cache.settings?.get(tenant);
  const reason = requestBypassReason(request, template?.javascript === true, settings);
  if (reason) return { cache: { state: "bypass", reason } };
  const assets =
    request.assets && cache.assets ? await headJobAssets(cache.assets, tenant, request.assets) : {};
  const provenance = provenanceOf(inputDigests(request, template?.sha256, assets), cache.rendererIdentity);
  const entry = await cache.entries.get(tenant, provenance.cacheKey, now);
  if (!entry) return { cache: { state: "miss" }, provenance };
  return {
    cache: { state: "hit", sourceJobId: entry.sourceJobId },
    provenance: entry.output.provenance ?? provenance,
    entry,
  };
}

/** A job as the cache serves it: already succeeded with the entry's output, kept no longer than it. */
function servedFromCache(job: Job, entry: RenderCacheEntry | undefined): Job {
  if (!entry) return job;
  // The job's provenance is the entry's: not repeated on the output, so the item stays one write unit.
  const { provenance: _, ...output } = entry.output;
  return {
    ...job,
    status: "succeeded",
    output,
    retainUntil: entry.expiresAt,
    ...(job.callbackUrl ? { webhook: { state: "pending", attempts: [] } } : {}),
  };
}

/** The first delivery of a hit's webhook, unless one has been tried (the dispatcher's path from here on). */
async function queueHitWebhook(cache: SubmitCacheDeps, job: Job): Promise<void> {
  if (!job.callbackUrl || (job.webhook && job.webhook.attempts.length > 0)) return;
  await cache.webhooks.enqueue({
    tenant: job.tenant,
    jobId: job.id,
    attempt: 1,
    ...(job.correlationId ? { correlationId: job.correlationId } : {}),
  });
}
