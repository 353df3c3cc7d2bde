import type * as Api from "./api-types.js";

/** The body of POST /v1/renders, as the API accepts it (fields with defaults may be left out). */
export type RenderSubmissionInput = Api.RenderRequest;
/** The body of POST /v1/templates. */
export type CreateTemplateInput = Api.CreateTemplate;
/** The body of POST /v1/batches. */
export type BatchSubmissionInput = Api.BatchRequest;
/** A template version as the API describes it. */
export type TemplateVersionInfo = Api.TemplateVersions["versions"][number];
/** A render job as GET /v1/renders/{id} answers it. */
export type JobView = Api.Job;
/** A batch as GET /v1/batches/{id} answers it. */
export type BatchView = Api.Batch;
/** One page of GET /v1/batches/{id}/outputs. */
export type BatchOutputsPage = Api.BatchOutputsPage;
/** One offending field of an `invalid_request` answer. */
export type FieldIssue = NonNullable<Api.Error["error"]["fields"]>[number];

export interface RetryOptions {
  /** Attempts in all, the first included. @default 5 */
  readonly attempts?: number;
  /** Backoff ceiling of the first retry; it doubles with each further one. @default 200 */
  readonly baseDelayMs?: number;
  /** @default 5_000 */
  readonly maxDelayMs?: number;
  /** The longest Retry-After honoured; a longer one is waited for only this long. @default 30_000 */
  readonly maxRetryAfterMs?: number;
}

export interface KilnClientOptions {
  /** e.g. `http://127.0.0.1:3000` or the deployed API's base URL (with its stage). */
  readonly baseUrl: string;
  /** Sent as `x-api-key`; without it only public routes (`/openapi.json`) answer. */
  readonly apiKey?: string;
  readonly fetch?: typeof fetch;
  readonly retry?: RetryOptions;
  /** Called before each retry, e.g. to log it. */
  readonly onRetry?: (retry: RetryEvent) => void;
}

export interface RetryEvent {
  readonly method: string;
  readonly path: string;
  /** The attempt that failed, 1 for the first. */
  readonly attempt: number;
  /** How long the client waits before the next attempt. */
  readonly delayMs: number;
  /** The failed answer's status; undefined when there was none (network error). */
  readonly status?: number;
}

/** An answer of the Kiln API that is not a 2xx, with the API's own code, message and fields. */
export class KilnApiError extends Error {
  override readonly name = "KilnApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    /** The API's sentence, without the status and code. */
    readonly detail: string,
    /** With `invalid_request`: each offending field. */
    readonly fields: readonly FieldIssue[],
    /** The parsed body (or its text when it was not JSON). */
    readonly body: unknown,
    /** From Retry-After, when the answer had one. */
    readonly retryAfterMs?: number,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

/**
 * No answer from the API (or the output's URL): the connection failed on every attempt, e.g. refused,
 * a name that does not resolve, a TLS failure. The message names the URL and the cause's code.
 */
export class KilnConnectionError extends Error {
  override readonly name = "KilnConnectionError";
  constructor(
    /** The URL asked, without its query: a signed URL's query is a credential. */
    readonly url: string,
    /** The network error's code (`ECONNREFUSED`, `ENOTFOUND`, …), when it has one. */
    readonly causeCode: string | undefined,
    options: { cause: unknown },
  ) {
    super(`cannot reach ${url} (${causeCode ?? causeMessage(options.cause)})`, options);
  }
}

/** `waitFor` gave up: the job was not terminal within the time allowed. */
export class KilnWaitTimeoutError extends Error {
  override readonly name = "KilnWaitTimeoutError";
  constructor(
    readonly jobId: string,
    readonly lastStatus: JobView["status"],
    readonly timeoutMs: number,
  ) {
    super(`Job ${jobId} was still ${lastStatus} after ${timeoutMs} ms.`);
  }
}

export type SubmittedJob = Pick<JobView, "id" | "status">;

export interface SubmitOptions {
  /**
   * Makes the submission safe to repeat: the API answers a repeat with the job the key first created.
   * @default a new UUID for each call, so that this call's own retries cannot create a second job
   */
  readonly idempotencyKey?: string;
  /** Attempts in all (overrides `retry.attempts` for this call). */
  readonly attempts?: number;
  readonly signal?: AbortSignal;
  /**
   * Seconds the API may hold the submission until the job ends (`Prefer: wait`); the API cuts a
   * longer wait to its cap. The answer then carries the finished `job`.
   */
  readonly wait?: number;
}

export interface WaitOptions {
  /** @default 120_000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** First pause between polls; it grows by half each poll up to `maxIntervalMs`. @default 100 */
  readonly intervalMs?: number;
  /** @default 2_000 */
  readonly maxIntervalMs?: number;
  /** Sees the job at every change of status. */
  readonly onStatus?: (job: JobView) => void;
}

/** What `render` takes: the submission's options and how long to wait for the job in all. */
export interface RenderOptions extends SubmitOptions, WaitOptions {}

export interface RequestOptions {
  /** Sent as JSON. */
  readonly json?: unknown;
  /** Sent as it is, with `contentType`. */
  readonly body?: string | Uint8Array;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Send the API key. @default true */
  readonly auth?: boolean;
  /**
   * Whether repeating the request is harmless, so failures may be retried.
   * @default true for GET, HEAD, PUT and DELETE and for requests with an Idempotency-Key
   */
  readonly idempotent?: boolean;
  readonly attempts?: number;
}

export interface KilnResponse<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE"]);

/**
 * A typed client for the Kiln API: what the CLI, the tests and applications speak. Failures that a
 * repeat can fix (429, 5xx, no answer) are retried with exponential backoff and jitter, honouring
 * Retry-After; a request is only repeated when repeating it is harmless.
 */
export class KilnClient {
  private readonly fetch: typeof fetch;
  private readonly retry: Required<RetryOptions>;

  constructor(private readonly options: KilnClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.retry = {
      attempts: options.retry?.attempts ?? 5,
      baseDelayMs: options.retry?.baseDelayMs ?? 200,
      maxDelayMs: options.retry?.maxDelayMs ?? 5_000,
      maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? 30_000,
    };
  }

  /**
   * Submits a render. Every submission carries an Idempotency-Key (a new one unless given), so the
   * client's own retries answer the job the first attempt created instead of making a second.
   */
  async submitRender(
    job: RenderSubmissionInput,
    options: SubmitOptions = {},
  ): Promise<
    SubmittedJob & {
      location: string;
      replayed: boolean;
      idempotencyKey: string;
      /** The job once it has ended, when the answer carries it (a `wait` it ended within). */
      job?: JobView;
    }
  > {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    const res = await this.request<SubmittedJob | JobView>("POST", "/v1/renders", {
      json: job,
      headers: {
        "idempotency-key": idempotencyKey,
        ...(options.wait === undefined ? {} : { prefer: `wait=${options.wait}` }),
      },
      signal: options.signal,
      attempts: options.attempts,
    });
    const { id, status } = res.body;
    const ended = res.status === 200 && (status === "succeeded" || status === "failed");
    return {
      id,
      status,
      location: res.headers.get("location") ?? `/v1/renders/${id}`,
      replayed: res.headers.get("idempotent-replayed") === "true",
      idempotencyKey,
      ...(ended ? { job: res.body as JobView } : {}),
    };
  }

  /** The job; with `wait`, the API answers as soon as it has ended, or after that many seconds (a long poll). */
  async getRender(id: string, options: { signal?: AbortSignal; wait?: number } = {}): Promise<JobView> {
    const query = options.wait === undefined ? "" : `?wait=${options.wait}`;
    return (
      await this.request<JobView>("GET", `/v1/renders/${encodeURIComponent(id)}${query}`, {
        signal: options.signal,
      })
    ).body;
  }

  /**
   * Submits a render and answers it once it has ended: the API holds the submission as long as
   * `timeoutMs` allows (up to its own cap); a job still running then is polled with `waitFor` for the
   * rest of `timeoutMs`.
   */
  async render(job: RenderSubmissionInput, options: RenderOptions = {}): Promise<JobView> {
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? 120_000;
    const submitted = await this.submitRender(job, { ...options, wait: Math.ceil(timeoutMs / 1000) });
    if (submitted.job) {
      options.onStatus?.(submitted.job);
      return submitted.job;
    }
    return this.waitFor(submitted.id, {
      ...options,
      timeoutMs: Math.max(0, timeoutMs - (Date.now() - started)),
    });
  }

  /** Polls with growing pauses until the job has succeeded or failed. */
  async waitFor(id: string, options: WaitOptions = {}): Promise<JobView> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    const maxIntervalMs = options.maxIntervalMs ?? 2_000;
    let interval = options.intervalMs ?? 100;
    let last: JobView["status"] | undefined;
    for (;;) {
      const job = await this.getRender(id, { signal: options.signal });
      if (job.status !== last) options.onStatus?.(job);
      last = job.status;
      if (job.status === "succeeded" || job.status === "failed") return job;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new KilnWaitTimeoutError(id, job.status, timeoutMs);
      await sleep(Math.min(interval, remaining), options.signal);
      interval = Math.min(maxIntervalMs, interval * 1.5);
    }
  }

  /** Downloads a succeeded job's output through its signed URL. */
  async download(job: JobView, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    if (!job.output) throw new Error(`Job ${job.id} has no output (status ${job.status}).`);
    const { url } = job.output;
    const res = await this.fetch(url, { signal: options.signal ?? null }).catch((err: unknown) => {
      throw options.signal?.aborted ? err : connectionError(url, err);
    });
    if (!res.ok) throw new Error(`Downloading the output of job ${job.id} failed with HTTP ${res.status}.`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** The tenant's webhook signing secret (`whsec_…`), created on first use. */
  async getWebhookSecret(): Promise<string> {
    return (await this.request<{ secret: string }>("GET", "/v1/webhooks/secret")).body.secret;
  }

  /**
   * Replaces the webhook signing secret with a new one. Until `previousSecretExpiresAt` deliveries are
   * signed with both, so receivers can move to `secret` meanwhile; a second rotation at the same time
   * answers 409.
   */
  async rotateWebhookSecret(): Promise<{ secret: string; previousSecretExpiresAt?: string }> {
    const { body } = await this.request<{ secret: string; previousSecretExpiresAt?: string }>(
      "POST",
      "/v1/webhooks/secret/rotate",
    );
    return {
      secret: body.secret,
      ...(body.previousSecretExpiresAt ? { previousSecretExpiresAt: body.previousSecretExpiresAt } : {}),
    };
  }

  /**
   * Stores `html` (and its data schema) as the next version of template `id`. Sending exactly the
   * latest version's content again creates nothing and answers that version (`created: false`).
   */
  async createTemplate(body: CreateTemplateInput): Promise<TemplateVersionInfo & { created: boolean }> {
    // Safe to repeat for that reason: a retried upload answers the version the first one made.
    return (
      await this.request<TemplateVersionInfo & { created: boolean }>("POST", "/v1/templates", {
        json: body,
        idempotent: true,
      })
    ).body;
  }

  /** The versions of template `id`, oldest first. */
  async getTemplate(
    id: string,
  ): Promise<{ id: string; latestVersion: number; versions: TemplateVersionInfo[] }> {
    return (
      await this.request<{ id: string; latestVersion: number; versions: TemplateVersionInfo[] }>(
        "GET",
        `/v1/templates/${encodeURIComponent(id)}`,
      )
    ).body;
  }

  /** The tenant's templates, each at its latest version. */
  async listTemplates(): Promise<TemplateVersionInfo[]> {
    return (await this.request<{ templates: TemplateVersionInfo[] }>("GET", "/v1/templates")).body.templates;
  }

  /** One version with its HTML and schema. */
  async getTemplateVersion(
    id: string,
    version: number,
  ): Promise<TemplateVersionInfo & { html: string; schema?: Record<string, unknown> }> {
    return (
      await this.request<TemplateVersionInfo & { html: string; schema?: Record<string, unknown> }>(
        "GET",
        `/v1/templates/${encodeURIComponent(id)}/versions/${version}`,
      )
    ).body;
  }

  /** The tenant's settings: `egress.allowHosts`, the hosts templates may load from over https. */
  async getSettings(): Promise<{ egress: { allowHosts: string[] } }> {
    return (await this.request<{ egress: { allowHosts: string[] } }>("GET", "/v1/settings")).body;
  }

  /** Replaces the tenant's settings; answers them as stored (normalised). PUT is safe to repeat. */
  async putSettings(settings: {
    egress: { allowHosts: string[] };
  }): Promise<{ egress: { allowHosts: string[] } }> {
    return (
      await this.request<{ egress: { allowHosts: string[] } }>("PUT", "/v1/settings", { json: settings })
    ).body;
  }

  /** Uploads a file to the tenant's assets under `key` (e.g. `brand/logo.png`). */
  async putAsset(
    key: string,
    body: Uint8Array,
    contentType: string,
  ): Promise<{ key: string; bytes: number; contentType: string; sha256: string }> {
    const path = `/v1/assets/${key.split("/").map(encodeURIComponent).join("/")}`;
    return (
      await this.request<{ key: string; bytes: number; contentType: string; sha256: string }>("PUT", path, {
        body,
        contentType,
      })
    ).body;
  }

  /**
   * Uploads a file too large for putAsset (up to 50 MiB) straight to S3: asks POST /v1/asset-uploads
   * for a presigned URL scoped to this key, type and size, then PUTs the file to it with the headers
   * it was signed with. The asset is then used like any other.
   */
  async uploadLargeAsset(
    key: string,
    body: Uint8Array,
    contentType: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ key: string; bytes: number; contentType: string; sha256: string }> {
    const upload = (
      await this.request<{ url: string; method: string; headers: Record<string, string> }>(
        "POST",
        "/v1/asset-uploads",
        { json: { key, contentType, bytes: body.byteLength }, idempotent: true, signal: options.signal },
      )
    ).body;
    // fetch sets Content-Length from the body itself; the value is the one signed.
    const { "content-length": _length, ...headers } = upload.headers;
    const res = await this.fetch(upload.url, {
      method: upload.method,
      headers,
      body: new Uint8Array(body),
      signal: options.signal ?? null,
    });
    if (!res.ok) throw await apiError(res);
    await res.body?.cancel();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(body)));
    const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    return { key, bytes: body.byteLength, contentType: headers["content-type"] ?? contentType, sha256 };
  }

  /**
   * Submits a batch (one render per record). Like submitRender it always carries an Idempotency-Key,
   * so the client's own retries cannot create a second batch.
   */
  async submitBatch(
    batch: BatchSubmissionInput,
    options: SubmitOptions = {},
  ): Promise<{ id: string; status: string; total: number; replayed: boolean; idempotencyKey: string }> {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    const res = await this.request<{ id: string; status: string; total: number }>("POST", "/v1/batches", {
      json: batch,
      headers: { "idempotency-key": idempotencyKey },
      signal: options.signal,
      attempts: options.attempts,
    });
    return { ...res.body, replayed: res.headers.get("idempotent-replayed") === "true", idempotencyKey };
  }

  /** Counts per job status, the overall status, and once complete the manifest (and zip) URLs. */
  async getBatch(id: string, options: { signal?: AbortSignal } = {}): Promise<BatchView> {
    return (await this.request<BatchView>("GET", `/v1/batches/${encodeURIComponent(id)}`, options)).body;
  }

  /** Up to 100 entries of a batch from index `start`, with signed URLs of their outputs. */
  async getBatchOutputs(id: string, start = 0): Promise<BatchOutputsPage> {
    return (
      await this.request<BatchOutputsPage>(
        "GET",
        `/v1/batches/${encodeURIComponent(id)}/outputs?start=${start}`,
      )
    ).body;
  }

  /** The API's OpenAPI 3.1 document; needs no API key. */
  async getOpenApi(): Promise<Record<string, unknown>> {
    return (await this.request<Record<string, unknown>>("GET", "/openapi.json", { auth: false })).body;
  }

  /**
   * Any request to the API: non-2xx answers throw KilnApiError; failures are retried as the class
   * describes when the request is idempotent. The body is parsed as JSON when it is JSON.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<KilnResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.auth !== false && this.options.apiKey !== undefined)
      headers["x-api-key"] = this.options.apiKey;
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      if (options.contentType) headers["content-type"] = options.contentType;
      body = options.body;
    }
    Object.assign(headers, options.headers);
    const hasKey = Object.keys(headers).some((h) => h.toLowerCase() === "idempotency-key");
    const idempotent = options.idempotent ?? (IDEMPOTENT_METHODS.has(method.toUpperCase()) || hasKey);
    const attempts = idempotent ? (options.attempts ?? this.retry.attempts) : 1;
    const url = new URL(
      path.replace(/^\//, ""),
      this.options.baseUrl.endsWith("/") ? this.options.baseUrl : `${this.options.baseUrl}/`,
    );

    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(url, {
          method,
          headers,
          // A fresh copy each attempt: a Uint8Array body may be transferred by the first.
          ...(body === undefined ? {} : { body: typeof body === "string" ? body : new Uint8Array(body) }),
          signal: options.signal ?? null,
        });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        if (attempt >= attempts) throw connectionError(url.href, err);
        const delayMs = this.backoffMs(attempt);
        this.options.onRetry?.({ method, path, attempt, delayMs });
        await sleep(delayMs, options.signal);
        continue;
      }
      if (res.ok) return { status: res.status, headers: res.headers, body: (await parseBody(res)) as T };
      const error = await apiError(res);
      if (!(res.status === 429 || res.status >= 500) || attempt >= attempts) throw error;
      const delayMs =
        error.retryAfterMs === undefined
          ? this.backoffMs(attempt)
          : Math.min(error.retryAfterMs, this.retry.maxRetryAfterMs);
      this.options.onRetry?.({ method, path, attempt, delayMs, status: res.status });
      await sleep(delayMs, options.signal);
    }
  }

  /** Exponential with jitter: between half and all of base × 2^(attempt-1), capped. */
  private backoffMs(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function parseBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!/\bjson\b/i.test(res.headers.get("content-type") ?? "")) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function apiError(res: Response): Promise<KilnApiError> {
  const body = await parseBody(res).catch(() => "");
  let parsed = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {}
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; fields?: unknown } } | null)?.error;
  const text = typeof parsed === "string" ? parsed.slice(0, 200) : `HTTP ${res.status}`;
  return new KilnApiError(
    res.status,
    typeof error?.code === "string" ? error.code : "http_error",
    typeof error?.message === "string" ? error.message : text,
    Array.isArray(error?.fields) ? (error.fields as FieldIssue[]) : [],
    parsed,
    parseRetryAfter(res.headers.get("retry-after")),
  );
}

function connectionError(url: string, err: unknown): KilnConnectionError {
  const { origin, pathname } = new URL(url);
  return new KilnConnectionError(`${origin}${pathname}`, networkErrorCode(err), { cause: err });
}

/** fetch rejects with "fetch failed"; the reason is its cause (an AggregateError when several addresses were tried). */
function networkErrorCode(err: unknown): string | undefined {
  for (let e = err; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    const { code, errors } = e as { code?: unknown; errors?: unknown };
    if (typeof code === "string") return code;
    const [first] = Array.isArray(errors) ? errors : [];
    if (typeof (first as { code?: unknown } | undefined)?.code === "string")
      return (first as { code: string }).code;
  }
  return undefined;
}

function causeMessage(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause ?? err;
  return cause instanceof Error ? cause.message : String(cause);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
