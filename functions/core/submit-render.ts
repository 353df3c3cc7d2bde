import { createHash } from "node:crypto";
import { PAYLOADS } from "./constants.js";
import { ValidationError } from "./errors.js";
import { claimIdempotencyKey } from "./idempotency.js";
import type { Job, JobBatchRef } from "./job.js";
import type { Clock, IdempotencyStore, JobStore, PayloadStore, RenderQueue, SecretCipher } from "./ports.js";
import { LIMITS, type RenderRequest, type RenderSubmission } from "./render-request.js";
import { sealPageSecrets } from "./url-source.js";

export interface SubmitRenderDeps {
  readonly jobs: JobStore;
  readonly queue: RenderQueue;
  readonly payloads: PayloadStore;
  readonly idempotency: IdempotencyStore;
  readonly clock: Clock;
  readonly newId: () => string;
  /** Encrypts a URL job's headers and cookies before anything is stored. */
  readonly pageSecrets?: SecretCipher;
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
 */
export async function submitRender(
  deps: SubmitRenderDeps,
  tenant: string,
  submission: RenderSubmission,
  idempotencyKey?: string,
  /** Kept on the job and carried in its render message. */
  correlationId?: string,
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
      if (existing) return { job: existing, replayed: true };
    }
  }

  const { callbackUrl, ...submitted } = submission;
  // Sealed after the fingerprint, which is of what the client sent (a ciphertext differs every time).
  const request: RenderRequest = submitted.source
    ? { ...submitted, source: await sealPageSecrets(deps.pageSecrets, tenant, submitted.source) }
    : submitted;
  const at = now.toISOString();
  const { job, requestJson } = queuedJob({ tenant, id, at, request, callbackUrl, correlationId });
  // The request first, then the message, then the record: the worker that gets the message a moment
  // before the record exists looks again shortly, so only one write should separate them.
  if (job.payloadKey) await payloads.put(job.payloadKey, requestJson);
  else await jobs.storeRequest(tenant, id, request, at);
  await queue.enqueue({ tenant, jobId: id, ...(correlationId ? { correlationId } : {}) });
  if ((await jobs.create(job)) === "exists") {
    // A concurrent retry with the same key got there first: it is the same job.
    return { job: (await jobs.get(tenant, id)) ?? job, replayed: false };
  }
  return { job, replayed: false };
}
