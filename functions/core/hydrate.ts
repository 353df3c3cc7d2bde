import type { AssetUrls } from "./assets.js";
import { renderTemplate } from "./template-engine.js";

/**
 * Hydrates a template with the job's data: Liquid with every `{{ }}` HTML-escaped, no file access, and
 * `{{ 'name' | asset_url }}` resolving to the signed URL of the job's asset `name` (see template-engine.ts),
 * and `date: "now"` showing the job's `clock` when it has one.
 * A template that fails is a permanent `template_error`.
 */
export async function hydrate(
  html: string,
  data: Record<string, unknown>,
  assetUrls: AssetUrls = {},
  clock?: string,
): Promise<string> {
  return renderTemplate(html, data, assetUrls, clock);
}
