import type { Job, JobFailure, WebhookAttempt, WebhookState } from "./job.js";
import type { SignedUrl } from "./ports.js";
import type { CacheState, Provenance } from "./render-cache.js";
import type { RenderedDocument } from "./url-source.js";

/** The job as the API shows it to its tenant: no request echo, no internal keys. */
export interface JobView {
  readonly id: string;
  readonly status: Job["status"];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly attempts: number;
  /** The submitting request's correlation id, for finding the job's log lines. */
  readonly correlationId?: string;
  readonly output?: {
    readonly url: string;
    readonly contentType: string;
    readonly bytes: number;
    readonly sha256: string;
    readonly expiresAt: string;
    /** A URL job's main document as rendered. */
    readonly document?: RenderedDocument;
  };
  readonly error?: JobFailure;
  /** Whether the job was served from the render cache (`hit`), rendered after a lookup (`miss`), or not looked up. */
  readonly cache?: CacheState;
  /** A hit: the job whose output it shares. */
  readonly cachedFrom?: string;
  /** A bypass: why the job could not be served from the cache. */
  readonly cacheBypassReason?: string;
  /** What produced the output (once succeeded) or will produce it: input digests and renderer versions. */
  readonly provenance?: Provenance;
  /** Only for jobs submitted with a callbackUrl; `waiting` until the job ends. */
  readonly webhook?: {
    readonly url: string;
    readonly state: WebhookState | "waiting";
    readonly attempts: readonly WebhookAttempt[];
    readonly nextAttemptAt?: string;
  };
}

export function toJobView(job: Job, outputUrl?: SignedUrl): JobView {
  // What the worker used, once it rendered; before that what the api knew.
  const provenance = job.output?.provenance ?? job.provenance;
  return {
    id: job.id,
    status: job.status,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    attempts: job.attempts,
    ...(job.correlationId ? { correlationId: job.correlationId } : {}),
    ...(job.output && outputUrl
      ? {
          output: {
            url: outputUrl.url,
            contentType: job.output.contentType,
            bytes: job.output.bytes,
            sha256: job.output.sha256,
            expiresAt: outputUrl.expiresAt,
            ...(job.output.document ? { document: job.output.document } : {}),
          },
        }
      : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.cache ? { cache: job.cache.state } : {}),
    ...(job.cache?.sourceJobId ? { cachedFrom: job.cache.sourceJobId } : {}),
    ...(job.cache?.reason ? { cacheBypassReason: job.cache.reason } : {}),
    ...(provenance ? { provenance } : {}),
    ...(job.callbackUrl
      ? {
          webhook: {
            url: job.callbackUrl,
            state: job.webhook?.state ?? "waiting",
            attempts: job.webhook?.attempts ?? [],
            ...(job.webhook?.nextAttemptAt ? { nextAttemptAt: job.webhook.nextAttemptAt } : {}),
          },
        }
      : {}),
  };
}
