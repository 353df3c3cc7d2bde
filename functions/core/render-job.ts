import { createHash } from "node:crypto";
import { OUTPUTS } from "./constants.js";
import { PermanentRenderError } from "./errors.js";
import { hydrate } from "./hydrate.js";
import type { JobFailure } from "./job.js";
import type { Clock, JobStore, ObjectStore, Renderer, RenderMessage } from "./ports.js";
import { CONTENT_TYPES, type OutputFormat } from "./render-request.js";

export interface RenderJobDeps {
  readonly jobs: JobStore;
  readonly renderer: Renderer;
  readonly outputs: ObjectStore;
  readonly clock: Clock;
}

export interface Delivery {
  /** How many times the queue has delivered this message, this delivery included. */
  readonly receiveCount: number;
  /** Deliveries after which the queue moves the message to the dead-letter queue. */
  readonly maxReceiveCount: number;
}

/**
 * - `done`: the job is terminal (now or already); the message can be deleted.
 * - `retry`: a transient failure; leave the message for redelivery.
 * - `dead-letter`: transient failures used up every delivery; the job is marked failed and the message
 *   is left to move to the dead-letter queue, where operators can inspect and redrive it.
 */
export type RenderJobResult =
  | {
      readonly outcome: "done";
      readonly status: "succeeded";
      readonly format: OutputFormat;
      readonly bytes: number;
    }
  | { readonly outcome: "done"; readonly status: "failed"; readonly code: string }
  | { readonly outcome: "done"; readonly status: "skipped" }
  | { readonly outcome: "retry" | "dead-letter"; readonly error: Error };

const EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  png: "png",
  jpeg: "jpg",
  webp: "webp",
  pdf: "pdf",
};

/** Content-addressed, tenant-scoped output key: identical output bytes share one object per tenant. */
export function outputKey(tenant: string, sha256: string, format: OutputFormat): string {
  return `${OUTPUTS.keyPrefix}${tenant}/${sha256}.${EXTENSIONS[format]}`;
}

export async function renderJob(
  deps: RenderJobDeps,
  message: RenderMessage,
  delivery: Delivery,
): Promise<RenderJobResult> {
  const { jobs, renderer, outputs, clock } = deps;
  const job = await jobs.startAttempt(message.tenant, message.jobId, clock.now());
  if (!job) return { outcome: "done", status: "skipped" };

  try {
    const { request } = job;
    const html = await hydrate(request.template.html, request.data);
    const body = await renderer.render(html, request.output);
    const sha256 = createHash("sha256").update(body).digest("hex");
    const contentType = CONTENT_TYPES[request.output.format];
    const key = outputKey(job.tenant, sha256, request.output.format);
    await outputs.put({ key, body, contentType, cacheControl: OUTPUTS.cacheControl });
    await jobs.markSucceeded(
      job.tenant,
      job.id,
      { key, contentType, bytes: body.byteLength, sha256 },
      clock.now(),
    );
    return { outcome: "done", status: "succeeded", format: request.output.format, bytes: body.byteLength };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    if (error instanceof PermanentRenderError) {
      await jobs.markFailed(job.tenant, job.id, { code: error.code, message: error.message }, clock.now());
      return { outcome: "done", status: "failed", code: error.code };
    }
    if (delivery.receiveCount >= delivery.maxReceiveCount) {
      await jobs.markFailed(job.tenant, job.id, exhausted(job.attempts, error), clock.now());
      return { outcome: "dead-letter", error };
    }
    return { outcome: "retry", error };
  }
}

function exhausted(attempts: number, error: Error): JobFailure {
  const reason = error.message.length > 300 ? `${error.message.slice(0, 300)}…` : error.message;
  return { code: "render_failed", message: `Rendering failed after ${attempts} attempts: ${reason}` };
}
