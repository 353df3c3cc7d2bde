import { createHash } from "node:crypto";
import { ASSETS, type AssetInfo } from "./assets.js";
import type { JobOutput } from "./job.js";
import type { RenderRequest } from "./render-request.js";
import type { RendererIdentity } from "./renderer-identity.js";
import type { TenantSettings } from "./tenant-settings.js";

/**
 * The render cache: Kiln's outputs are byte-identical for identical inputs, so a job whose every
 * input equals an earlier succeeded job's of the same tenant gets that job's output at submission,
 * without a queue message, Chromium or an S3 PUT. The key is a digest of the inputs, each digested
 * where it is known: template content, data, every asset's stored version, the options that shape
 * the page, and the renderer (Kiln, Chromium, font pack). The api computes it to look the entry up;
 * the worker computes it again from what it rendered with and writes the entry under that key, so an
 * entry never claims inputs its output was not made from. docs/operations.md ("Render cache") gives
 * the rules below and why.
 */

/** The digests of a job's inputs: sha256, hex. */
export interface InputDigests {
  /** The template's HTML (a stored version's own content hash); absent for a URL job. */
  readonly template?: string;
  readonly data: string;
  /** Per asset name: the digest of the stored object's version (key, ETag, Last-Modified, type, size). */
  readonly assets: Readonly<Record<string, string>>;
  /** Output options and everything else in the request that shapes the page. */
  readonly options: string;
}

/** What produced (or would produce) an output: its inputs, the renderer, and the key they make. */
export interface Provenance {
  readonly inputs: InputDigests;
  readonly renderer: RendererIdentity;
  readonly cacheKey: string;
}

/** A job's relation to the cache, as the API shows it. */
export type CacheState =
  /** Served at submission with an earlier job's output. */
  | "hit"
  /** Looked up and not found: rendered, and its output may serve later jobs. */
  | "miss"
  /** Not looked up: `reason` says why (`cache: false`, a URL job, scripts, an egress allowlist…). */
  | "bypass";

export interface JobCache {
  readonly state: CacheState;
  /** A hit: the job whose output it reuses. */
  readonly sourceJobId?: string;
  /** A bypass: why the job could not be served from the cache. */
  readonly reason?: string;
}

/** One entry: the output of the job that first rendered these inputs, until the output's expiry. */
export interface RenderCacheEntry {
  readonly key: string;
  readonly sourceJobId: string;
  readonly output: JobOutput;
  /** ISO-8601 instant the entry was written. */
  readonly createdAt: string;
  /** ISO-8601 instant after which the entry is not used; never later than its output's expiry. */
  readonly expiresAt: string;
}

/** Entries of the jobs table, per tenant (`TENANT#<t>#CACHE#<key>`). */
export interface RenderCache {
  /** The live entry under `key`; an expired one counts as absent. */
  get(tenant: string, key: string, now: Date): Promise<RenderCacheEntry | undefined>;
  /** Writes `entry` unless a live one holds its key (the first output stays; both are the same bytes). */
  put(tenant: string, entry: RenderCacheEntry, now: Date): Promise<void>;
}

export const RENDER_CACHE = {
  /**
   * An asset changed this recently may still reach Chromium in its previous content from the CDN
   * (assets are cached `max-age=300`): an output rendered then is not kept as a cache entry.
   */
  assetSettleSeconds: Number(/max-age=(\d+)/.exec(ASSETS.cacheControl)?.[1] ?? 300),
} as const;

/** JSON with object keys sorted at every level: equal values, equal text, whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** The digest of a stored asset's version: a re-upload under the same key is a new Last-Modified. */
export function assetDigest(key: string, info: AssetInfo): string {
  return sha256(
    canonicalJson({
      key,
      etag: info.etag ?? null,
      lastModified: info.lastModified ?? null,
      contentType: info.contentType,
      bytes: info.bytes,
    }),
  );
}

/**
 * The request's parts that shape the page besides template, data and assets. `timeoutMs` only bounds
 * how long a render may take and `cache` only whether it is looked up: neither changes the bytes.
 */
function optionsOf(request: RenderRequest): Record<string, unknown> {
  const { template: _t, source: _s, data: _d, assets: _a, timeoutMs: _m, cache: _c, ...options } = request;
  return options;
}

/**
 * The digests of a request's inputs. `templateSha256` is the stored version's content hash (the
 * inline HTML is hashed here); `assets` the stored versions of the assets it names, by name.
 */
export function inputDigests(
  request: RenderRequest,
  templateSha256: string | undefined,
  assets: Readonly<Record<string, AssetInfo>>,
): InputDigests {
  const template =
    request.template && "html" in request.template ? sha256(request.template.html) : templateSha256;
  return {
    ...(template ? { template } : {}),
    data: sha256(canonicalJson(request.data)),
    assets: Object.fromEntries(
      Object.entries(request.assets ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, key]) => {
          const info = assets[name];
          return [name, info ? assetDigest(key, info) : "missing"];
        }),
    ),
    options: sha256(canonicalJson(optionsOf(request))),
  };
}

/** The cache key of inputs rendered by `renderer`. */
export function cacheKey(inputs: InputDigests, renderer: RendererIdentity): string {
  return sha256(canonicalJson({ inputs, renderer }));
}

export function provenanceOf(inputs: InputDigests, renderer: RendererIdentity): Provenance {
  return { inputs, renderer, cacheKey: cacheKey(inputs, renderer) };
}

/**
 * Why a request cannot be served from the cache, judged at submission from the request, the stored
 * template version and the tenant's settings; undefined when it may be.
 */
export function requestBypassReason(
  request: RenderRequest,
  templateJavaScript: boolean,
  settings: TenantSettings | undefined,
): string | undefined {
  if (request.cache === false) return "the job asked not to use the cache (cache: false)";
  if (request.source) return "a URL job renders a live page, whose content Kiln cannot digest";
  if (request.javascript === true || templateJavaScript) {
    return "the template runs JavaScript, which may read the time or choose what to load";
  }
  if ((settings?.egress.allowHosts.length ?? 0) > 0) {
    return "the tenant's egress allowlist lets templates load external hosts, whose content Kiln cannot digest";
  }
  const pdf = request.output.pdf;
  if (pdf?.protection) {
    // Encrypted bytes differ on every render, and the key would digest the passwords.
    return "the PDF is protected with a password";
  }
  const finishingAssets =
    (pdf?.parts?.length ?? 0) > 0 ||
    pdf?.stamps?.some((stamp) => stamp.image !== undefined) === true ||
    pdf?.attachments?.some((attachment) => attachment.asset !== undefined) === true;
  if (finishingAssets) {
    return "the PDF's parts, stamp images or attachments come from templates and assets the key does not digest";
  }
  return undefined;
}

/** A Liquid `date` filter (`"now" | date`, or data that says "now"), or a header or footer `date` element. */
const DATE_FILTER = /\|\s*date\b/;
const DATE_CLASS = /\bclass\s*=\s*(?:(["'])(?:(?!\1).)*\bdate\b|date\b)/is;

/**
 * Why an output rendered now may not be kept in the cache, judged by the worker from what it rendered
 * with; undefined when it may. A request bypassing the cache is never kept either.
 */
export function renderBypassReason(rendered: {
  readonly request: RenderRequest;
  /** The template's HTML, as loaded. */
  readonly html: string;
  readonly templateJavaScript: boolean;
  readonly settings: TenantSettings | undefined;
  readonly assets: Readonly<Record<string, AssetInfo>>;
  readonly now: Date;
}): string | undefined {
  const { request } = rendered;
  const reason = requestBypassReason(request, rendered.templateJavaScript, rendered.settings);
  if (reason) return reason;
  const pdf = request.output.pdf;
  const readsTime =
    DATE_FILTER.test(rendered.html) ||
    [pdf?.headerTemplate, pdf?.footerTemplate].some(
      (t) => t !== undefined && (DATE_FILTER.test(t) || DATE_CLASS.test(t)),
    );
  if (readsTime && !request.clock) {
    return "the template prints the date or time and the job sets no clock";
  }
  const settleMs = RENDER_CACHE.assetSettleSeconds * 1000;
  const fresh = Object.values(rendered.assets).some(
    (a) => a.lastModified === undefined || rendered.now.getTime() - Date.parse(a.lastModified) < settleMs,
  );
  if (fresh) return "an asset changed within the CDN's cache time and may not have reached the render";
  return undefined;
}

/**
 * When an entry written at `outputPutAt` stops being used. Outputs expire `outputsExpirationDays`
 * after their last PUT, which is at least the job retention (lib/constructs/buckets.ts): an entry
 * kept for the job retention never outlives its output.
 */
export function cacheEntryExpiry(outputPutAt: Date, jobRetentionDays: number): string {
  return new Date(outputPutAt.getTime() + jobRetentionDays * 86_400_000).toISOString();
}
