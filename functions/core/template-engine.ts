import { type FilterImplOptions, Liquid } from "liquidjs";
import type { z } from "zod";
import type { AssetUrls } from "./assets.js";
import { PermanentRenderError } from "./errors.js";

/** Where a render's signed asset URLs travel to the `asset_url` filter; not a template variable. */
const ASSET_URLS = Symbol("kiln.assetUrls");
/** The job's frozen clock (epoch ms), for `date: "now"`; absent means the real time. */
const FROZEN_NOW = Symbol("kiln.frozenNow");

type RenderGlobals = { [ASSET_URLS]?: AssetUrls; [FROZEN_NOW]?: number };

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
 * Kiln has no partials or layouts: refusing these tags when the template is parsed lets submission
 * answer 400 with their line instead of queueing a job that can only fail at render.
 */
for (const tag of ["include", "render", "layout"]) {
  engine.registerTag(tag, {
    parse() {
      throw new Error(`{% ${tag} %} is not available: Kiln templates have no partials or layouts`);
    },
    render() {},
  });
}

/**
 * `{{ 'logo' | asset_url }}`: the signed CDN URL of the job's asset named `logo`. Raw (not escaped):
 * asset keys and signatures use only characters that are safe as they are in HTML text, attributes
 * and CSS `url("…")`, and escaping `&` would break the URL inside a <style> element.
 */
engine.registerFilter("asset_url", {
  raw: true,
  handler(name: unknown) {
    const urls = (this.context.globals as RenderGlobals)[ASSET_URLS] ?? {};
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

const builtinDate = engine.filters.date;
type FilterHandler = Extract<FilterImplOptions, (...args: never[]) => unknown>;
const builtinDateHandler: FilterHandler | undefined =
  typeof builtinDate === "function" ? builtinDate : builtinDate?.handler;
if (!builtinDateHandler) throw new Error("liquidjs no longer provides the date filter");

/**
 * Liquid's `date` reads `Date.now()` for "now" and "today"; a job with a `clock` must get that instant
 * instead, as the page's `Date` does, or the same request would not give the same bytes.
 */
engine.registerFilter("date", function date(this, value: unknown, ...args: unknown[]) {
  const frozen = (this.context.globals as RenderGlobals)[FROZEN_NOW];
  const instant = frozen !== undefined && (value === "now" || value === "today") ? frozen / 1000 : value;
  return builtinDateHandler.call(this, instant, ...args);
});

export const TEMPLATE_ERROR = "template_error";

/**
 * Hydrates `html` with `data`; `assetUrls` feed `asset_url`, `clock` (ISO-8601) is what `date: "now"`
 * shows. A template that fails is a permanent error.
 */
export async function renderTemplate(
  html: string,
  data: Record<string, unknown>,
  assetUrls: AssetUrls = {},
  clock?: string,
): Promise<string> {
  const globals: RenderGlobals = { [ASSET_URLS]: assetUrls };
  if (clock !== undefined) globals[FROZEN_NOW] = Date.parse(clock);
  try {
    return await engine.parseAndRender(html, data, { globals });
  } catch (err) {
    throw new PermanentRenderError(
      TEMPLATE_ERROR,
      `template could not be rendered: ${(err as Error).message}`,
    );
  }
}

/** A zod refinement: `html` must parse as Liquid; the issue quotes the parser, with line and column. */
export function requireLiquidSyntax(html: string, ctx: z.RefinementCtx): void {
  const syntax = templateSyntaxError(html);
  if (syntax) ctx.addIssue({ code: "custom", message: `is not a valid Liquid template: ${syntax}` });
}

/** Undefined when `html` parses as a Liquid template, else the parser's message (with line and column). */
export function templateSyntaxError(html: string): string | undefined {
  try {
    engine.parse(html);
    return undefined;
  } catch (err) {
    // liquidjs ends its message with ", line:2, col:1".
    return (err as Error).message.replace(/,? line:(\d+), col:(\d+)$/, " (line $1, column $2)");
  }
}
