import { createHash } from "node:crypto";
import { hashApiKey } from "../../core/api-keys.js";
import {
  canTransition,
  isTerminal,
  isUnfinishedPast,
  type Job,
  type JobFailure,
  type JobLease,
  type JobOutput,
  type JobStatus,
  leaseIsLive,
  type WebhookAttempt,
  type WebhookState,
} from "../../core/job.js";
import type {
  ApiKeyStore,
  Clock,
  FailGuard,
  IdempotencyRecord,
  IdempotencyStore,
  JobStore,
  LiveCapture,
  Logger,
  MessageVisibility,
  Metrics,
  ObjectStore,
  PayloadStore,
  Renderer,
  RenderMessage,
  RenderQueue,
  RenderQueueBacklog,
  SignedUrl,
  StartAttemptResult,
  StoredObject,
  UnfinishedCutoffs,
  UrlSigner,
  WebhookMessage,
  WebhookQueue,
  WebhookSecretStore,
  WebhookSender,
  WriteResult,
} from "../../core/ports.js";
import type { RenderCache, RenderCacheEntry } from "../../core/render-cache.js";
import type { OutputOptions, RenderRequest } from "../../core/render-request.js";
import type { LivePage } from "../../core/url-source.js";
import { generateWebhookSecret, rotateWebhookSecrets, type WebhookSecrets } from "../../core/webhooks.js";

/**
 * In-memory ports for unit tests of the core and the handlers. They obey the same contract as the
 * DynamoDB store: the state machine, the lease conditions, and "a repeated call that had applied is
 * recognised" (test/integration/job-store-contract.test.ts runs both against one suite).
 */
export class MemoryJobStore implements JobStore {
  /** Job records; one set here with a `request` stands for a job stored before requests were kept apart. */
  readonly jobs = new Map<string, Job>();
  /** Requests, kept apart from the records as the DynamoDB store keeps them. */
  readonly requests = new Map<string, RenderRequest>();

  async create(job: Job): Promise<"created" | "exists"> {
    const k = `${job.tenant}/${job.id}`;
    const { request, ...record } = job;
    if (request && !this.requests.has(k)) this.requests.set(k, request);
    if (this.jobs.has(k)) return "exists";
    this.jobs.set(k, record);
    return "created";
  }

  async storeRequest(tenant: string, id: string, request: RenderRequest): Promise<void> {
    const k = `${tenant}/${id}`;
    if (!this.requests.has(k)) this.requests.set(k, request);
  }

  async redactRequest(tenant: string, id: string, request: RenderRequest): Promise<void> {
    const k = `${tenant}/${id}`;
    if (this.requests.has(k)) this.requests.set(k, request);
  }

  async get(tenant: string, id: string): Promise<Job | undefined> {
    return this.jobs.get(`${tenant}/${id}`);
  }

  async getRequest(tenant: string, id: string): Promise<RenderRequest | undefined> {
    const k = `${tenant}/${id}`;
    return this.requests.get(k) ?? this.jobs.get(k)?.request;
  }

  async startAttempt(tenant: string, id: string, lease: JobLease, at: Date): Promise<StartAttemptResult> {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (!job) return { kind: "missing" };
    if (isTerminal(job.status)) return { kind: "terminal", job };
    if (job.lease?.owner === lease.owner) return { kind: "started", job };
    if (job.status === "rendering" && leaseIsLive(job, at.getTime())) return { kind: "leased", job };
    const next = this.put(job, { status: "rendering", attempts: job.attempts + 1, lease }, at);
    return { kind: "started", job: next };
  }

  async renewLease(tenant: string, id: string, lease: JobLease, at: Date): Promise<boolean> {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (job?.status !== "rendering" || job.lease?.owner !== lease.owner) return false;
    this.put(job, { lease }, at, false);
    return true;
  }

  async releaseLease(
    tenant: string,
    id: string,
    owner: string,
    lastError: JobFailure,
    at: Date,
  ): Promise<boolean> {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (job?.status !== "rendering" || job.lease?.owner !== owner || job.finalDeliveryAt) return false;
    const { lease: _, ...rest } = job;
    this.jobs.set(`${tenant}/${id}`, { ...rest, lastError, updatedAt: at.toISOString() });
    return true;
  }

  async markFinalDelivery(tenant: string, id: string, at: Date): Promise<WriteResult> {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (!job || isTerminal(job.status)) return { applied: false, ...(job ? { job } : {}) };
    return {
      applied: true,
      job: this.put(job, { finalDeliveryAt: job.finalDeliveryAt ?? at.toISOString() }, at, false),
    };
  }

  async markSucceeded(
    tenant: string,
    id: string,
    owner: string,
    output: JobOutput,
    at: Date,
    notify: boolean,
  ): Promise<WriteResult> {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (!job || !canTransition(job.status, "succeeded") || job.lease?.owner !== owner) {
      return { applied: false, ...(job ? { job } : {}) };
    }
    return { applied: true, job: this.finish(job, "succeeded", { output }, at, notify) };
  }

  async markFailed(
    tenant: string,
    id: string,
    error: JobFailure,
    at: Date,
    guard: FailGuard,
    notify: boolean,
  ): Promise<WriteResult> {
    const job = this.jobs.get(`${tenant}/${id}`);
    const allowed =
      job !== undefined &&
      canTransition(job.status, "failed") &&
      ("owner" in guard
        ? job.lease?.owner === guard.owner
        : (job.lease === undefined || job.lease.expiresAtMs <= guard.leaseExpiredAtMs) &&
          (guard.unchangedSince === undefined || job.updatedAt === guard.unchangedSince));
    if (!job || !allowed) return { applied: false, ...(job ? { job } : {}) };
    return { applied: true, job: this.finish(job, "failed", { error }, at, notify) };
  }

  async *findUnfinished(cutoffs: UnfinishedCutoffs): AsyncIterable<Job> {
    for (const job of [...this.jobs.values()]) {
      if (isUnfinishedPast(job, cutoffs)) yield job;
    }
  }

  async markRequeued(tenant: string, id: string, seenUpdatedAt: string, at: Date): Promise<WriteResult> {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (job?.status !== "queued" || job.updatedAt !== seenUpdatedAt || job.requeuedAt) {
      return { applied: false, ...(job ? { job } : {}) };
    }
    return { applied: true, job: this.put(job, { requeuedAt: at.toISOString() }, at) };
  }

  async recordWebhook(
    tenant: string,
    id: string,
    update: { attempt?: WebhookAttempt; state: WebhookState; nextAttemptAt?: string },
  ): Promise<void> {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (!job) throw new Error(`job ${id} does not exist`);
    const recorded = job.webhook?.attempts ?? [];
    // Attempt n is appended only while n − 1 are recorded: a repeated call changes nothing.
    if (update.attempt && recorded.length >= update.attempt.attempt) return;
    const attempts = [...recorded, ...(update.attempt ? [update.attempt] : [])];
    this.jobs.set(`${tenant}/${id}`, {
      ...job,
      webhook: {
        state: update.state,
        attempts,
        ...(update.nextAttemptAt ? { nextAttemptAt: update.nextAttemptAt } : {}),
      },
    });
  }

  private finish(job: Job, to: JobStatus, patch: Partial<Job>, at: Date, notify: boolean): Job {
    const { lease: _, ...rest } = job;
    const next: Job = {
      ...rest,
      ...patch,
      status: to,
      updatedAt: at.toISOString(),
      ...(notify ? { webhook: { state: "pending", attempts: [] } } : {}),
    };
    this.jobs.set(`${job.tenant}/${job.id}`, next);
    return next;
  }

  private put(job: Job, patch: Partial<Job>, at: Date, touch = true): Job {
    const next: Job = { ...job, ...patch, ...(touch ? { updatedAt: at.toISOString() } : {}) };
    this.jobs.set(`${job.tenant}/${job.id}`, next);
    return next;
  }
}

/** The render cache's entries, with the DynamoDB store's rules: expired entries are absent and replaceable. */
export class MemoryRenderCache implements RenderCache {
  readonly entries = new Map<string, RenderCacheEntry>();

  async get(tenant: string, key: string, now: Date): Promise<RenderCacheEntry | undefined> {
    const entry = this.entries.get(`${tenant}/${key}`);
    return entry && Date.parse(entry.expiresAt) > now.getTime() ? entry : undefined;
  }

  async put(tenant: string, entry: RenderCacheEntry, now: Date): Promise<void> {
    if (!(await this.get(tenant, entry.key, now))) this.entries.set(`${tenant}/${entry.key}`, entry);
  }
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, IdempotencyRecord>();

  async claim(tenant: string, candidate: IdempotencyRecord, now: Date) {
    const k = `${tenant}/${candidate.key}`;
    const existing = this.records.get(k);
    if (existing && existing.expiresAtMs > now.getTime()) return { record: existing, claimed: false };
    this.records.set(k, candidate);
    return { record: candidate, claimed: true };
  }
}

export class MemoryWebhookSecretStore implements WebhookSecretStore {
  readonly secrets = new Map<string, WebhookSecrets>();
  async getOrCreate(tenant: string): Promise<WebhookSecrets> {
    const existing = this.secrets.get(tenant);
    if (existing) return existing;
    const secrets = { current: generateWebhookSecret() };
    this.secrets.set(tenant, secrets);
    return secrets;
  }
  async rotate(tenant: string, now: Date, overlapSeconds: number): Promise<WebhookSecrets> {
    const rotated = rotateWebhookSecrets(
      this.secrets.get(tenant),
      generateWebhookSecret(),
      now,
      overlapSeconds,
    );
    this.secrets.set(tenant, rotated);
    return rotated;
  }
}

export class MemoryPayloadStore implements PayloadStore {
  readonly payloads = new Map<string, string>();
  async put(key: string, body: string): Promise<void> {
    this.payloads.set(key, body);
  }
  async get(key: string): Promise<string | undefined> {
    return this.payloads.get(key);
  }
}

export class MemoryWebhookQueue implements WebhookQueue {
  readonly messages: Array<{ message: WebhookMessage; delaySeconds: number }> = [];
  async enqueue(message: WebhookMessage, delaySeconds = 0): Promise<void> {
    this.messages.push({ message, delaySeconds });
  }
}

/** Remembers the last visibility set per receipt handle, and every call. */
export class MemoryVisibility implements MessageVisibility {
  readonly calls: Array<{ queueArn: string; receiptHandles: readonly string[]; seconds: number }> = [];
  readonly current = new Map<string, number>();
  async change(queueArn: string, receiptHandles: readonly string[], seconds: number): Promise<void> {
    this.calls.push({ queueArn, receiptHandles, seconds });
    for (const h of receiptHandles) this.current.set(h, seconds);
  }
}

/** Answers with the statuses queued in `responses` (200 once they run out) and records each request. */
export class RecordingWebhookSender implements WebhookSender {
  readonly requests: Array<{ url: string; headers: Record<string, string>; body: string }> = [];
  responses: Array<number | Error> = [];
  async post(url: string, headers: Readonly<Record<string, string>>, body: string) {
    this.requests.push({ url, headers: { ...headers }, body });
    const next = this.responses.shift() ?? 200;
    if (next instanceof Error) throw next;
    return { status: next };
  }
}

export class MemoryApiKeyStore implements ApiKeyStore {
  private readonly byHash = new Map<string, string>();
  constructor(keys: Record<string, string> = {}) {
    for (const [tenant, key] of Object.entries(keys)) this.byHash.set(hashApiKey(key), tenant);
  }
  async tenantFor(apiKey: string): Promise<string | undefined> {
    return this.byHash.get(hashApiKey(apiKey));
  }
}

export class MemoryRenderQueue implements RenderQueue, RenderQueueBacklog {
  readonly messages: RenderMessage[] = [];
  failNext = false;
  /** What waitingMessages answers: messages waiting for a worker, as the queue counts them. */
  waiting = 0;
  async waitingMessages(): Promise<number> {
    return this.waiting;
  }
  async enqueue(message: RenderMessage): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("queue unavailable");
    }
    this.messages.push(message);
  }
  async enqueueAll(messages: readonly RenderMessage[]): Promise<void> {
    for (const m of messages) await this.enqueue(m);
  }
}

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, StoredObject>();
  async put(object: StoredObject): Promise<void> {
    this.objects.set(object.key, object);
  }
}

/** A renderer whose output is the HTML it was given, so tests can see what reached it. */
export class EchoRenderer implements Renderer {
  readonly calls: Array<{ html: string; output: OutputOptions }> = [];
  failures: Error[] = [];
  async render(html: string, output: OutputOptions): Promise<Uint8Array> {
    this.calls.push({ html, output });
    const failure = this.failures.shift();
    if (failure) throw failure;
    return new TextEncoder().encode(html);
  }
  /** Echoes the URL and the secrets it was given, so tests can see they arrived decrypted. */
  async capture(live: LivePage, output: OutputOptions): Promise<LiveCapture> {
    const bytes = await this.render(JSON.stringify(live), output);
    return {
      bytes,
      document: { url: live.url, sha256: createHash("sha256").update(live.url).digest("hex") },
    };
  }
}

export class FixedClock implements Clock {
  constructor(public current = new Date("2026-01-01T00:00:00Z")) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** Signs by naming the key and expiry in the URL; enough for handlers that only pass URLs along. */
export class FakeUrlSigner implements UrlSigner {
  constructor(private readonly clock: Clock) {}
  async sign(_tenant: string, keys: readonly string[], ttlSeconds = 300): Promise<SignedUrl[]> {
    const expiresAt = new Date(this.clock.now().getTime() + ttlSeconds * 1000).toISOString();
    return keys.map((key) => ({ key, url: `https://cdn.test/${key}?expires=${expiresAt}`, expiresAt }));
  }
}

export class RecordingMetrics implements Metrics {
  readonly succeeded: Array<{ format: string; durationMs: number; bytes: number; queueWaitMs?: number }> = [];
  readonly failed: Array<{ code: string }> = [];
  readonly webhooks: Array<{ outcome: string }> = [];
  renderSucceeded(f: { format: string; durationMs: number; bytes: number; queueWaitMs?: number }): void {
    this.succeeded.push(f);
  }
  renderFailed(f: { code: string }): void {
    this.failed.push(f);
  }
  readonly cacheHits: Array<{ format: string }> = [];
  renderCacheHit(f: { format: string }): void {
    this.cacheHits.push(f);
  }
  webhookAttempted(f: { outcome: string }): void {
    this.webhooks.push(f);
  }
  readonly reconciled: Array<{ action: string; count: number }> = [];
  jobsReconciled(f: { action: "requeued" | "failed"; count: number }): void {
    this.reconciled.push(f);
  }
}

/** Keeps every line with the fields of its scope, as an operator's query would see them. */
export class RecordingLogger implements Logger {
  constructor(
    readonly lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [],
    private readonly scope: Record<string, unknown> = {},
  ) {}
  debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "debug", message, fields: { ...this.scope, ...fields } });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "info", message, fields: { ...this.scope, ...fields } });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "warn", message, fields: { ...this.scope, ...fields } });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: "error", message, fields: { ...this.scope, ...fields } });
  }
  child(fields: Record<string, unknown>): Logger {
    return new RecordingLogger(this.lines, { ...this.scope, ...fields });
  }
}
