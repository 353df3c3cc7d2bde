import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { hydrate } from "../../functions/core/hydrate.js";
import { type RenderRequest, RenderRequestSchema } from "../../functions/core/render-request.js";

export const BENCH_FORMATS = ["png", "pdf"] as const;
export type BenchFormat = (typeof BENCH_FORMATS)[number];

export interface BenchJob {
  readonly format: BenchFormat;
  /** The body of POST /v1/renders, as in the job file. */
  readonly body: unknown;
  /** The body with `"cache": false`: each submission renders, none is served from the render cache. */
  readonly uncached: unknown;
  readonly request: RenderRequest;
  /** The template hydrated with its data: what the worker hands to Chromium. */
  readonly html: string;
}

/** The invoice example's two jobs (`job.png.json`, `job.pdf.json`). */
export async function loadBenchJobs(dir: string): Promise<Record<BenchFormat, BenchJob>> {
  const load = async (format: BenchFormat): Promise<BenchJob> => {
    const path = join(dir, `job.${format}.json`);
    const body: unknown = JSON.parse(await readFile(path, "utf8"));
    const request = RenderRequestSchema.parse(body);
    if (request.output.format !== format) throw new Error(`${path} does not render ${format}.`);
    if (!request.template || !("html" in request.template))
      throw new Error(`${path} must carry its template inline.`);
    const uncached = { ...(body as Record<string, unknown>), cache: false };
    return { format, body, uncached, request, html: await hydrate(request.template.html, request.data) };
  };
  return { png: await load("png"), pdf: await load("pdf") };
}
