import { Liquid } from "liquidjs";
import type { AssetUrls } from "./assets.js";
import { PermanentRenderError } from "./errors.js";

/** Where a render's signed asset URLs travel to the `asset_url` filter; not a template variable. */
const ASSET_URLS = Symbol("kiln.assetUrls");

/**
 * Liquid runs no template-supplied code and cannot reach the filesystem here (no `include`
 * root is configured); `outputEscape` HTML-escapes every `{{ }}` by default.
 */
const engine = new Liquid({
  outputEscape: "escape",
  strictFilters: true,
  // The `date` filter in UTC, as on Lambda, whatever the host's time zone.
  timezoneOffset: 0,
  ownPropertyOnly: true,
  relativeReference: false,
  root: [],
  partials: [],
  layouts: [],
  fs: {
    exists: async () => false,
    existsSync: () => false,
    readFile: async (file: string) => {
      throw new Error(`templates cannot include files (${file})`);
    },
    readFileSync: (file: string) => {
      throw new Error(`templates cannot include files (${file})`);
    },
    resolve: (_root: string, file: string) => file,
    contains: async () => false,
    sep: "/",
  },
});

/**
 * `{{ 'logo' | asset_url }}`: the signed CDN URL of the job's asset named `logo`. Raw (not escaped):
 * asset keys and signatures use only characters that are safe as they are in HTML text, attributes
 * and CSS `url("…")`, and escaping `&` would break the URL inside a <style> element.
 */
engine.registerFilter("asset_url", {
  raw: true,
  handler(name: unknown) {
    const urls = (this.context.globals as { [ASSET_URLS]?: AssetUrls })[ASSET_URLS] ?? {};
    const key = String(name);
    const url = Object.hasOwn(urls, key) ? urls[key] : undefined;
    if (url === undefined) {
      const known = Object.keys(urls);
      throw new Error(
        `asset "${key}" is not among the job's assets (${known.length > 0 ? known.join(", ") : "it names none"}); add it to "assets" in the request`,
      );
    }
    return url;
  },
});

export const TEMPLATE_ERROR = "template_error";

/** Hydrates `html` with `data`; `assetUrls` feed `asset_url`. A template that fails is a permanent error. */
export async function renderTemplate(
  html: string,
  data: Record<string, unknown>,
  assetUrls: AssetUrls = {},
): Promise<string> {
  try {
    return await engine.parseAndRender(html, data, { globals: { [ASSET_URLS]: assetUrls } });
  } catch (err) {
    throw new PermanentRenderError(
      TEMPLATE_ERROR,
      `template could not be rendered: ${(err as Error).message}`,
    );
  }
}

/** Undefined when `html` parses as a Liquid template, else the parser's message (with line and column). */
export function templateSyntaxError(html: string): string | undefined {
  try {
    engine.parse(html);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
