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

/** A small client for the Kiln API: what the CLI and the integration tests speak. */
export class KilnClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: KilnClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async submitRender(job: unknown): Promise<SubmittedJob & { location: string }> {
    const res = await this.request("POST", "/v1/renders", job);
    const body = (await res.json()) as SubmittedJob;
    return { ...body, location: res.headers.get("location") ?? `/v1/renders/${body.id}` };
  }

  async getRender(id: string): Promise<JobView> {
    const res = await this.request("GET", `/v1/renders/${encodeURIComponent(id)}`);
    return (await res.json()) as JobView;
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

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await this.fetch(new URL(path, this.options.baseUrl), {
      method,
      headers: {
        "x-api-key": this.options.apiKey,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
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
