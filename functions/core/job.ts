import type { UnfinishedCutoffs } from "./ports.js";
import type { JobCache, Provenance } from "./render-cache.js";
import type { RenderRequest } from "./render-request.js";
import type { RenderedDocument } from "./url-source.js";

export type JobStatus = "queued" | "rendering" | "succeeded" | "failed";

export interface JobOutput {
  readonly key: string;
  readonly contentType: string;
  readonly bytes: number;
  readonly sha256: string;
  /** A URL job's main document as rendered: its final URL and the sha256 of its bytes. */
  readonly document?: RenderedDocument;
  /** What the render that made these bytes used: input digests and renderer, as the worker saw them. */
  readonly provenance?: Provenance;
}

export interface JobFailure {
  readonly code: string;
  readonly message: string;
}

/**
 * The attempt currently allowed to render the job. Another attempt may take the job over only once
 * `expiresAtMs` has passed; success and failure are written only by the holder.
 */
export interface JobLease {
  readonly owner: string;
  /** Epoch milliseconds. */
  readonly expiresAtMs: number;
}

/** `pending` until the first delivery, `retrying` between failed ones; `delivered` and `failed` are final. */
export type WebhookState = "pending" | "retrying" | "delivered" | "failed";

export interface WebhookAttempt {
  /** 1 for the first delivery. */
  readonly attempt: number;
  /** ISO-8601 instant the request was sent. */
  readonly at: string;
  /** The receiver's HTTP status, when it answered. */
  readonly status?: number;
  /** Why the attempt failed, when it did. */
  readonly error?: string;
  readonly durationMs: number;
}

export interface JobWebhook {
  readonly state: WebhookState;
  readonly attempts: readonly WebhookAttempt[];
  /** ISO-8601 instant of the next delivery while `retrying`. */
  readonly nextAttemptAt?: string;
}

export interface Job {
  readonly tenant: string;
  readonly id: string;
  readonly status: JobStatus;
  /** ISO-8601 instants. */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Render attempts started so far. */
  readonly attempts: number;
  /**
   * The request, on a job given to `JobStore.create`, which stores it apart from the job record:
   * jobs read back from the store do not carry it (`JobStore.getRequest` reads it). Large requests
   * are in the payload store instead.
   */
  readonly request?: RenderRequest;
  /** Payload-store key of the request when it was too large for the job record. */
  readonly payloadKey?: string;
  /** Where the job's completion event is POSTed. */
  readonly callbackUrl?: string;
  /** The submitting request's correlation id: on the job's log lines and its webhook deliveries. */
  readonly correlationId?: string;
  readonly lease?: JobLease;
  /** The reason of the latest transient failure; becomes the job's error once attempts run out. */
  readonly lastError?: JobFailure;
  /**
   * ISO-8601 instant the job's message had its final delivery (the one after the last render attempt)
   * while the job was not terminal. No delivery is left to take the job over, so from then on the
   * lease holder ends the job rather than release it.
   */
  readonly finalDeliveryAt?: string;
  /**
   * ISO-8601 instant the reconciler sent the job's message again, because a queued job had waited past
   * every delivery its first message could have had. Set once: a job is re-enqueued at most once.
   */
  readonly requeuedAt?: string;
  readonly output?: JobOutput;
  readonly error?: JobFailure;
  /** Present once a job with a callbackUrl is terminal. */
  readonly webhook?: JobWebhook;
  /** The batch this job renders one record of, and the record's position in it. */
  readonly batch?: JobBatchRef;
  /** Whether the job was served from the render cache, and why not. */
  readonly cache?: JobCache;
  /** What produces the job's output as known at submission; the output's own provenance replaces it. */
  readonly provenance?: Provenance;
  /**
   * ISO-8601 instant the job is kept until, when earlier than the job retention: a job served from the
   * cache lasts no longer than the output it shares.
   */
  readonly retainUntil?: string;
}

export interface JobBatchRef {
  readonly id: string;
  readonly index: number;
}

/** Whether an attempt other than the lease holder may start rendering the job at `nowMs`. */
export function leaseIsLive(job: Pick<Job, "lease">, nowMs: number): boolean {
  return job.lease !== undefined && job.lease.expiresAtMs > nowMs;
}

/**
 * The job state machine. `rendering → rendering` is a new attempt after a worker died or a transient
 * failure; nothing ever leaves a terminal state.
 */
const NEXT: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ["rendering", "failed"],
  rendering: ["rendering", "succeeded", "failed"],
  succeeded: [],
  failed: [],
};

export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed"];

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return NEXT[from].includes(to);
}

/** The states a job may be in for a move to `to` to be legal: the condition of every store write. */
export function statusesAllowedBefore(to: JobStatus): JobStatus[] {
  return (Object.keys(NEXT) as JobStatus[]).filter((from) => canTransition(from, to));
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Whether a job is unfinished at or past either of the reconciler's cutoffs (ISO instants compare as text). */
export function isUnfinishedPast(job: Job, cutoffs: UnfinishedCutoffs): boolean {
  if (isTerminal(job.status)) return false;
  return (
    job.updatedAt <= cutoffs.updatedBefore.toISOString() ||
    (job.finalDeliveryAt !== undefined && job.finalDeliveryAt <= cutoffs.finalDeliveryBefore.toISOString())
  );
}
