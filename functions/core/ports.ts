import type { Job, JobFailure, JobOutput } from "./job.js";
import type { OutputOptions } from "./render-request.js";

/** Job records. Every state change is a conditional write derived from the job state machine. */
export interface JobStore {
  /** Stores a new queued job; fails if the id exists. */
  create(job: Job): Promise<void>;
  get(tenant: string, id: string): Promise<Job | undefined>;
  /**
   * Moves the job to `rendering` and counts an attempt. Returns the updated job, or undefined when
   * the job is already terminal (or does not exist): the caller must not render it.
   */
  startAttempt(tenant: string, id: string, at: Date): Promise<Job | undefined>;
  /** Returns false when the job was not `rendering` (someone else finished it). */
  markSucceeded(tenant: string, id: string, output: JobOutput, at: Date): Promise<boolean>;
  /** Returns false when the job was already terminal. */
  markFailed(tenant: string, id: string, failure: JobFailure, at: Date): Promise<boolean>;
}

/** Maps an API key to its tenant. Keys are only ever compared by hash. */
export interface ApiKeyStore {
  tenantFor(apiKey: string): Promise<string | undefined>;
}

export interface RenderMessage {
  readonly tenant: string;
  readonly jobId: string;
}

export interface RenderQueue {
  enqueue(message: RenderMessage): Promise<void>;
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

/** Turns hydrated HTML into document bytes. */
export interface Renderer {
  render(html: string, output: OutputOptions): Promise<Uint8Array>;
}

export interface SignedUrl {
  readonly key: string;
  readonly url: string;
  /** ISO-8601 instant after which the CDN refuses the URL. */
  readonly expiresAt: string;
}

/** Mints short-lived CDN URLs for object keys. Only the signer function holds the private key. */
export interface UrlSigner {
  sign(keys: readonly string[], ttlSeconds?: number): Promise<SignedUrl[]>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Structured logging; the fields are what an operator filters on (job id, tenant, error code). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface Metrics {
  renderSucceeded(fields: { format: string; durationMs: number; bytes: number }): void;
  renderFailed(fields: { code: string }): void;
}
