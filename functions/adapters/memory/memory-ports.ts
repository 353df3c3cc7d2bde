import { hashApiKey } from "../../core/api-keys.js";
import { canTransition, type Job, type JobFailure, type JobOutput, type JobStatus } from "../../core/job.js";
import type {
  ApiKeyStore,
  Clock,
  JobStore,
  Metrics,
  ObjectStore,
  Renderer,
  RenderMessage,
  RenderQueue,
  SignedUrl,
  StoredObject,
  UrlSigner,
} from "../../core/ports.js";
import type { OutputOptions } from "../../core/render-request.js";

/** In-memory ports for unit tests of the core and the handlers. They obey the same state machine. */
export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, Job>();

  async create(job: Job): Promise<void> {
    const k = `${job.tenant}/${job.id}`;
    if (this.jobs.has(k)) throw new Error(`job ${job.id} exists`);
    this.jobs.set(k, job);
  }

  async get(tenant: string, id: string): Promise<Job | undefined> {
    return this.jobs.get(`${tenant}/${id}`);
  }

  async startAttempt(tenant: string, id: string, at: Date): Promise<Job | undefined> {
    return this.move(tenant, id, "rendering", at, (j) => ({ attempts: j.attempts + 1 }));
  }

  async markSucceeded(tenant: string, id: string, output: JobOutput, at: Date): Promise<boolean> {
    return (await this.move(tenant, id, "succeeded", at, () => ({ output }))) !== undefined;
  }

  async markFailed(tenant: string, id: string, error: JobFailure, at: Date): Promise<boolean> {
    return (await this.move(tenant, id, "failed", at, () => ({ error }))) !== undefined;
  }

  private async move(tenant: string, id: string, to: JobStatus, at: Date, patch: (j: Job) => Partial<Job>) {
    const job = this.jobs.get(`${tenant}/${id}`);
    if (!job || !canTransition(job.status, to)) return undefined;
    const next: Job = { ...job, ...patch(job), status: to, updatedAt: at.toISOString() };
    this.jobs.set(`${tenant}/${id}`, next);
    return next;
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

export class MemoryRenderQueue implements RenderQueue {
  readonly messages: RenderMessage[] = [];
  failNext = false;
  async enqueue(message: RenderMessage): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("queue unavailable");
    }
    this.messages.push(message);
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
  async sign(keys: readonly string[], ttlSeconds = 300): Promise<SignedUrl[]> {
    const expiresAt = new Date(this.clock.now().getTime() + ttlSeconds * 1000).toISOString();
    return keys.map((key) => ({ key, url: `https://cdn.test/${key}?expires=${expiresAt}`, expiresAt }));
  }
}

export class RecordingMetrics implements Metrics {
  readonly succeeded: Array<{ format: string; durationMs: number; bytes: number }> = [];
  readonly failed: Array<{ code: string }> = [];
  renderSucceeded(f: { format: string; durationMs: number; bytes: number }): void {
    this.succeeded.push(f);
  }
  renderFailed(f: { code: string }): void {
    this.failed.push(f);
  }
}
