import type { Job, JobFailure, JobLease, JobOutput, WebhookAttempt, WebhookState } from "./job.js";
import type { RenderMessage, WebhookMessage } from "./messages.js";
import type { OutputOptions, PageOptions } from "./output-options.js";
import type { RateLimit } from "./rate-limit.js";
import type { RenderRequest } from "./render-request.js";
import type { TenantSettings } from "./tenant-settings.js";
import type { LivePage, RenderedDocument } from "./url-source.js";
import type { WebhookSecrets } from "./webhooks.js";

export type StartAttemptResult =
  /** The caller holds the lease and must render. */
  | { readonly kind: "started"; readonly job: Job }
  | { readonly kind: "terminal"; readonly job: Job }
  /** Another attempt holds a live lease. */
  | { readonly kind: "leased"; readonly job: Job }
  | { readonly kind: "missing" };

/** A conditional write: whether it applied, and the record as it is now (if it exists). */
export interface WriteResult {
  readonly applied: boolean;
  readonly job?: Job;
}

/**
 * Who may fail a job: the attempt holding the lease, or anyone once the lease (if any) has expired
 * at `nowMs` — the settling receive after the last attempt.
 */
export type FailGuard =
  | { readonly owner: string }
  | {
      readonly leaseExpiredAtMs: number;
      /** Only if the record is still as it was read (its `updatedAt`): the reconciler's guard. */
      readonly unchangedSince?: string;
    };

/** Which non-terminal jobs `JobStore.findUnfinished` returns: at or past either cutoff. */
export interface UnfinishedCutoffs {
  /** Jobs whose last state change (`updatedAt`) is at or before this. */
  readonly updatedBefore: Date;
  /** Jobs whose message had its final delivery (`finalDeliveryAt`) at or before this. */
  readonly finalDeliveryBefore: Date;
}

/**
 * Job records. Every state change is a single conditional write derived from the job state machine
 * and the lease, so that no two attempts both win and a retried call never applies twice.
 */
export interface JobStore {
  /**
   * Stores a new queued job, and its `request` apart from the job record (which every state change
   * rewrites), the request first; `exists` when the id is already taken (a retried submission).
   */
  create(job: Job): Promise<"created" | "exists">;
  /**
   * Stores a job's request ahead of its record, as `create` would: the API does this before it sends
   * the render message, so that only one write separates the message from the job. Written once; a
   * repeat (a retried submission) keeps the first.
   */
  storeRequest(tenant: string, id: string, request: RenderRequest, createdAt: string): Promise<void>;
  /**
   * Overwrites the request stored with an ended job by `request` (the same request with its secrets
   * redacted); nothing when the job has no request here (it is in the payload store).
   */
  redactRequest(tenant: string, id: string, request: RenderRequest): Promise<void>;
  /** The job record, without its request. */
  get(tenant: string, id: string): Promise<Job | undefined>;
  /** The request stored with the job; undefined when there is none (it is in the payload store). */
  getRequest(tenant: string, id: string): Promise<RenderRequest | undefined>;
  /**
   * `getRequest` and the tenant's settings in one read, for a store that keeps both where the
   * TenantSettingsStore of the same deployment does (DynamoDB: one table, one BatchGetItem).
   */
  getRequestAndSettings?(
    tenant: string,
    id: string,
  ): Promise<{ readonly request?: RenderRequest; readonly settings?: TenantSettings }>;
  /**
   * Moves the job to `rendering` under `lease` and counts an attempt — allowed from `queued`, or from
   * `rendering` once the previous lease has expired at `at`. A retry of a call that had applied
   * reports `started` again (the lease owner is the caller's).
   */
  startAttempt(tenant: string, id: string, lease: JobLease, at: Date): Promise<StartAttemptResult>;
  /** Extends the lease; false when `lease.owner` no longer holds it. */
  renewLease(tenant: string, id: string, lease: JobLease, at: Date): Promise<boolean>;
  /**
   * After a transient failure: keeps the job `rendering`, expires the holder's lease at once so the
   * next delivery can start, and records the reason. False when `owner` no longer holds the lease, or
   * once the job has `finalDeliveryAt`: there is no next delivery, and the holder fails the job instead.
   */
  releaseLease(tenant: string, id: string, owner: string, lastError: JobFailure, at: Date): Promise<boolean>;
  /**
   * Sets `finalDeliveryAt` (the first `at` is kept) unless the job is terminal: from this write on,
   * `releaseLease` refuses. The record as it is now tells the final delivery whether a lease holder is
   * left to end the job.
   */
  markFinalDelivery(tenant: string, id: string, at: Date): Promise<WriteResult>;
  /** `rendering → succeeded` by the lease holder; `notify` starts the webhook (state `pending`). */
  markSucceeded(
    tenant: string,
    id: string,
    owner: string,
    output: JobOutput,
    at: Date,
    notify: boolean,
  ): Promise<WriteResult>;
  /** `queued | rendering → failed`, as allowed by `guard`; `notify` starts the webhook. */
  markFailed(
    tenant: string,
    id: string,
    failure: JobFailure,
    at: Date,
    guard: FailGuard,
    notify: boolean,
  ): Promise<WriteResult>;
  /**
   * Non-terminal jobs past either cutoff, page by page: the reconciler's candidates. Records may be a
   * moment stale (the reconciler's writes are conditional on what it read).
   */
  findUnfinished(cutoffs: UnfinishedCutoffs): AsyncIterable<Job>;
  /**
   * Records that the reconciler re-enqueues a queued job: sets `requeuedAt` (and `updatedAt`) only if
   * the job is still `queued`, unchanged since `seenUpdatedAt`, and was never re-enqueued before. The
   * caller sends the message only when this applied, so a job is re-enqueued at most once.
   */
  markRequeued(tenant: string, id: string, seenUpdatedAt: string, at: Date): Promise<WriteResult>;
  /**
   * Appends a delivery attempt (if any) and sets the webhook state. Attempt n is recorded only while
   * n − 1 are, so repeating a call that had applied changes nothing.
   */
  recordWebhook(
    tenant: string,
    id: string,
    update: { attempt?: WebhookAttempt; state: WebhookState; nextAttemptAt?: string },
  ): Promise<void>;
}

/** What an Idempotency-Key stands for: the job it created and the request it was created from. */
export interface IdempotencyRecord {
  readonly key: string;
  /** sha256 of the normalised request body. */
  readonly fingerprint: string;
  readonly jobId: string;
  readonly createdAt: string;
  /** Epoch ms after which the key is free again. */
  readonly expiresAtMs: number;
}

export interface IdempotencyStore {
  /**
   * Stores `candidate` unless a live record exists for its key (expired ones count as absent).
   * Returns the record in force and whether it is the candidate.
   */
  claim(
    tenant: string,
    candidate: IdempotencyRecord,
    now: Date,
  ): Promise<{ readonly record: IdempotencyRecord; readonly claimed: boolean }>;
}

/** Per-tenant settings (the egress allowlist); a tenant that never stored any has the defaults. */
export interface TenantSettingsStore {
  /** Undefined when the tenant has stored none. */
  get(tenant: string): Promise<TenantSettings | undefined>;
  /** Replaces the tenant's settings, stamped with `now`. */
  put(tenant: string, settings: TenantSettings, now: Date): Promise<void>;
}

/** Per-tenant webhook signing secrets (`whsec_…`), created on first use and kept encrypted. */
export interface WebhookSecretStore {
  /** The tenant's secrets; the first call for a tenant creates its current one. */
  getOrCreate(tenant: string): Promise<WebhookSecrets>;
  /**
   * Replaces the current secret with a new one; the replaced one stays `previous` until `now` plus
   * `overlapSeconds` (none with 0). A previous secret still in force is dropped. Throws
   * `ConcurrentRotationError` when another rotation of the tenant's secret came first.
   */
  rotate(tenant: string, now: Date, overlapSeconds: number): Promise<WebhookSecrets>;
}

/**
 * Encrypts secrets at rest, bound to their tenant: what is encrypted for one tenant decrypts only for
 * that tenant (KMS on AWS, with the encryption context `{ tenant }`).
 */
export interface SecretCipher {
  encrypt(tenant: string, plaintext: string): Promise<Uint8Array>;
  decrypt(tenant: string, ciphertext: Uint8Array): Promise<string>;
}

/** Request bodies kept out of the job record because of their size. */
export interface PayloadStore {
  put(key: string, body: string): Promise<void>;
  /** Undefined when there is no such payload. */
  get(key: string): Promise<string | undefined>;
}

/** Per-tenant request allowance (a token bucket); where API Gateway's usage plans do not throttle. */
export interface RateLimiter {
  /** Takes one request from the tenant's allowance: allowed, or how long until one would be. */
  take(
    tenant: string,
  ): Promise<
    | { readonly allowed: true }
    | { readonly allowed: false; readonly retryAfterSeconds: number; readonly limit: RateLimit }
  >;
}

/** Maps an API key to its tenant. Keys are only ever compared by hash. */
export interface ApiKeyStore {
  tenantFor(apiKey: string): Promise<string | undefined>;
}

export type { RenderMessage, WebhookMessage } from "./messages.js";

export interface RenderQueue {
  enqueue(message: RenderMessage): Promise<void>;
}

/** How many render messages wait for a worker (visible or delayed; approximate, as SQS counts). */
export interface RenderQueueBacklog {
  waitingMessages(): Promise<number>;
}

export interface WebhookQueue {
  /** `delaySeconds` is capped by the queue (15 minutes on SQS). */
  enqueue(message: WebhookMessage, delaySeconds?: number): Promise<void>;
}

/**
 * Changes how long received messages stay hidden: the heartbeat of a long render and the backoff of
 * a retry. Identified as the event source hands them over (queue ARN + receipt handle).
 */
export interface MessageVisibility {
  change(queueArn: string, receiptHandles: readonly string[], seconds: number): Promise<void>;
}

/** POSTs a webhook. Resolves with the receiver's status; rejects when there was no answer. */
export interface WebhookSender {
  post(
    url: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    timeoutMs: number,
  ): Promise<{ readonly status: number }>;
}

export interface StoredObject {
  readonly key: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly cacheControl: string;
}

export interface ObjectStore {
  put(object: StoredObject): Promise<void>;
}

/** A live page's capture: the bytes, and the main document they were rendered from. */
export interface LiveCapture {
  readonly bytes: Uint8Array;
  readonly document: RenderedDocument;
}

/** Turns hydrated HTML, or a live page, into document bytes. */
export interface Renderer {
  /** `page`: readiness and clock; absent means defaults (fail on broken resources, real time). */
  render(html: string, output: OutputOptions, page?: PageOptions): Promise<Uint8Array>;
  /** A URL job: navigates to the page under the same egress rules and captures it. */
  capture(live: LivePage, output: OutputOptions, page?: PageOptions): Promise<LiveCapture>;
}

export interface SignedUrl {
  readonly key: string;
  readonly url: string;
  /** ISO-8601 instant after which the CDN refuses the URL. */
  readonly expiresAt: string;
}

/**
 * Mints short-lived CDN URLs for a tenant's object keys. Only the signer function holds the private key,
 * and it signs only the keys and TTLs its caller's policy allows (signing-policy.ts).
 */
export interface UrlSigner {
  sign(tenant: string, keys: readonly string[], ttlSeconds?: number): Promise<SignedUrl[]>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Structured logging; the fields are what an operator filters on (job id, tenant, error code). */
export interface Logger {
  /** Written only at level DEBUG, or in the invocations sampled at DEBUG. */
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line: the scope of one request or one job's work. */
  child(fields: Record<string, unknown>): Logger;
}

export interface Metrics {
  /** `queueWaitMs`: from the render message being sent to the start of its render. */
  renderSucceeded(fields: { format: string; durationMs: number; bytes: number; queueWaitMs?: number }): void;
  renderFailed(fields: { code: string }): void;
  /** The api served a job from the render cache: no render. */
  renderCacheHit(fields: { format: string }): void;
  /** One webhook delivery attempt: `delivered`, `scheduled` (a retry follows) or `gave-up`. */
  webhookAttempted(fields: { outcome: "delivered" | "scheduled" | "gave-up" }): void;
  /** One reconciler run's jobs it acted on, by action (published even when zero, as a heartbeat). */
  jobsReconciled(fields: { action: "requeued" | "failed"; count: number }): void;
}
