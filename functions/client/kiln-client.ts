import type { JobView } from "../core/job-view.js";

export interface KilnClientOptions {
  /** e.g. `http://127.0.0.1:3000` or the deployed API's base URL. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly fetch?: typeof fetch;
}

/** An HTTP error from the Kiln API, with the API's own code and message. */
export class KilnApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = "KilnApiError";
  }
}

export type SubmittedJob = Pick<JobView, "id" | "status">;

/** A template version as the API describes it. */
export interface TemplateVersionInfo {
  readonly id: string;
  readonly version: number;
  readonly createdAt: string;
  /** sha256 of the HTML. */
  readonly sha256: string;
  readonly bytes: number;
  readonly hasSchema: boolean;
}

export interface SubmitOptions {
  /**
   * Makes the submission safe to repeat: the API answers a repeat with the job the key first created.
   * With a key, failed attempts (5xx, no answer) are retried with the same key.
   */
  readonly idempotencyKey?: string;
  /** Attempts in all when an idempotency key is given. @default 6 */
  readonly attempts?: number;
}

/** A small client for the Kiln API: what the CLI and the integration tests speak. */
export class KilnClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: KilnClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async submitRender(
    job: unknown,
    options: SubmitOptions = {},
  ): Promise<SubmittedJob & { location: string; replayed: boolean }> {
    const key = options.idempotencyKey;
    const send = () =>
      this.request("POST", "/v1/renders", job, key === undefined ? {} : { "idempotency-key": key });
    const res = key === undefined ? await send() : await retrying(send, options.attempts ?? 6);
    const body = (await res.json()) as SubmittedJob;
    return {
      ...body,
      location: res.headers.get("location") ?? `/v1/renders/${body.id}`,
      replayed: res.headers.get("idempotent-replayed") === "true",
    };
  }

  /** GET is safe to repeat: a 5xx or a dropped connection is retried a few times. */
  async getRender(id: string): Promise<JobView> {
    const res = await retrying(() => this.request("GET", `/v1/renders/${encodeURIComponent(id)}`), 4);
    return (await res.json()) as JobView;
  }

  /** The tenant's webhook signing secret (`whsec_…`), created on first use. */
  async getWebhookSecret(): Promise<string> {
    const res = await retrying(() => this.request("GET", "/v1/webhooks/secret"), 4);
    return ((await res.json()) as { secret: string }).secret;
  }

  /**
   * Stores `html` (and its data schema) as the next version of template `id`. Sending exactly the
   * latest version's content again creates nothing and answers that version (`created: false`), so
   * an upload can be repeated.
   */
  async createTemplate(body: {
    id: string;
    html: string;
    schema?: Record<string, unknown>;
  }): Promise<TemplateVersionInfo & { created: boolean }> {
    const res = await this.request("POST", "/v1/templates", body);
    return (await res.json()) as TemplateVersionInfo & { created: boolean };
  }

  /** The versions of template `id`, oldest first. */
  async getTemplate(
    id: string,
  ): Promise<{ id: string; latestVersion: number; versions: TemplateVersionInfo[] }> {
    const res = await retrying(() => this.request("GET", `/v1/templates/${encodeURIComponent(id)}`), 4);
    return (await res.json()) as { id: string; latestVersion: number; versions: TemplateVersionInfo[] };
  }

  /** One version with its HTML and schema. */
  async getTemplateVersion(
    id: string,
    version: number,
  ): Promise<TemplateVersionInfo & { html: string; schema?: Record<string, unknown> }> {
    const res = await retrying(
      () => this.request("GET", `/v1/templates/${encodeURIComponent(id)}/versions/${version}`),
      4,
    );
    return (await res.json()) as TemplateVersionInfo & { html: string; schema?: Record<string, unknown> };
  }

  /** Uploads a file to the tenant's assets under `key` (e.g. `brand/logo.png`); PUT is safe to repeat. */
  async putAsset(
    key: string,
    body: Uint8Array,
    contentType: string,
  ): Promise<{ key: string; bytes: number; contentType: string; sha256: string }> {
    const path = `/v1/assets/${key.split("/").map(encodeURIComponent).join("/")}`;
    const res = await retrying(() => this.request("PUT", path, body, { "content-type": contentType }), 4);
    return (await res.json()) as { key: string; bytes: number; contentType: string; sha256: string };
  }

  /** Polls until the job is terminal; `onStatus` sees every status change. */
  async waitFor(
    id: string,
    options: { timeoutMs?: number; intervalMs?: number; onStatus?: (job: JobView) => void } = {},
  ): Promise<JobView> {
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    let last: string | undefined;
    for (;;) {
      const job = await this.getRender(id);
      if (job.status !== last) options.onStatus?.(job);
      last = job.status;
      if (job.status === "succeeded" || job.status === "failed") return job;
      if (Date.now() > deadline)
        throw new Error(`Job ${id} was still ${job.status} after ${options.timeoutMs ?? 120_000} ms.`);
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
    }
  }

  /** Downloads a succeeded job's output through its signed URL. */
  async download(job: JobView): Promise<Uint8Array> {
    if (!job.output) throw new Error(`Job ${job.id} has no output (status ${job.status}).`);
    const res = await this.fetch(job.output.url);
    if (!res.ok) throw new Error(`Downloading the output of job ${job.id} failed with HTTP ${res.status}.`);
    return new Uint8Array(await res.arrayBuffer());
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const res = await this.fetch(new URL(path, this.options.baseUrl), {
      method,
      headers: {
        "x-api-key": this.options.apiKey,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined
        ? {}
        : { body: body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body) }),
    });
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      const error = (parsed as { error?: { code?: string; message?: string } })?.error;
      throw new KilnApiError(
        res.status,
        error?.code ?? "http_error",
        error?.message ?? text.slice(0, 200),
        parsed,
      );
    }
    return res;
  }
}

/** Repeats `call` after a 5xx or a network failure, with backoff; 4xx answers are final. */
async function retrying(call: () => Promise<Response>, attempts: number): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const status = err instanceof KilnApiError ? err.status : undefined;
      const retryable = status === undefined || status >= 500 || status === 429;
      if (!retryable || attempt >= attempts) throw err;
      const ceiling = Math.min(2000, 100 * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, ceiling / 2 + Math.random() * (ceiling / 2)));
    }
  }
}
