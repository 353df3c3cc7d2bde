import { z } from "zod";
import { PermanentRenderError } from "./errors.js";
import type { UrlSigner } from "./ports.js";

/**
 * Tenant assets: brand images, signatures, web fonts and style sheets that templates reference by
 * name. They live in the assets bucket under `assets/<tenant>/<key>`, behind the CDN, and are only
 * reachable through URLs the signer mints when a job renders — never at submission, so a job that
 * waits in the queue longer than a URL's lifetime still gets fresh ones.
 */
export const ASSETS = {
  keyPrefix: "assets/",
  /** API Gateway hands Lambda at most 6 MB, and a binary body arrives base64-encoded. */
  maxBytes: 4 * 1024 * 1024,
  /** Per job; the signer signs at most 100 keys per call. */
  maxPerJob: 50,
  /**
   * Keys are mutable (a tenant may upload a new logo under the same key), so caches keep them briefly;
   * give a new version a new key (`logo-v3.png`) for it to show at once.
   */
  cacheControl: "public, max-age=300",
} as const;

/** What an asset may be: what a document loads, and nothing a browser would run as a page. */
export const ASSET_CONTENT_TYPES: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  svg: "image/svg+xml",
  woff2: "font/woff2",
  woff: "font/woff",
  ttf: "font/ttf",
  otf: "font/otf",
  css: "text/css",
  /** Batch records (`recordsKey` of POST /v1/batches), one JSON object per line. */
  jsonl: "application/x-ndjson",
  /** Stored PDFs and data files that PDF finishing merges or attaches (output.pdf). */
  pdf: "application/pdf",
  csv: "text/csv",
};

const ALLOWED_TYPES = new Set(Object.values(ASSET_CONTENT_TYPES));

/** The content type for a file name, from its extension; undefined when Kiln does not serve that kind. */
export function contentTypeForAsset(name: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  return ext ? ASSET_CONTENT_TYPES[ext] : undefined;
}

/** Normalises a Content-Type header (`Image/PNG; charset=…` → `image/png`) if Kiln accepts it. */
export function acceptedAssetType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  return type && ALLOWED_TYPES.has(type) ? type : undefined;
}

/**
 * A key relative to the tenant's folder, e.g. `brand/logo-v2.png`. The characters are those that need
 * no escaping in a URL path, an HTML attribute or a CSS `url()`, so signed URLs can be put into a
 * template as they are.
 */
export const AssetKeySchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/, "may contain only letters, digits, '.', '_', '-' and '/'")
  .refine((k) => !k.split("/").some((s) => s === "." || s === ".."), {
    message: "must not contain '.' or '..' segments",
  })
  .describe("Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'.");

/** How a template names an asset: `{{ 'logo' | asset_url }}`. */
export const AssetNameSchema = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_-]{0,63}$/,
    "must start with a letter and contain only letters, digits, _ or -",
  );

export const AssetRefsSchema = z
  .record(AssetNameSchema, AssetKeySchema)
  .refine((refs) => Object.keys(refs).length <= ASSETS.maxPerJob, {
    message: `at most ${ASSETS.maxPerJob} assets per job`,
  });
export type AssetRefs = z.output<typeof AssetRefsSchema>;

/** The object key of a tenant's asset in the assets bucket (and the path behind the CDN). */
export function assetObjectKey(tenant: string, key: string): string {
  return `${ASSETS.keyPrefix}${tenant}/${key}`;
}

export interface AssetInfo {
  readonly bytes: number;
  readonly contentType: string;
}

/** The assets bucket. */
export interface AssetStore {
  /** Undefined when there is no such object. */
  head(objectKey: string): Promise<AssetInfo | undefined>;
  put(objectKey: string, body: Uint8Array, contentType: string): Promise<void>;
}

/** Code of the job failure when an asset the job names does not exist. */
export const ASSET_MISSING = "asset_missing";

export interface SignAssetsDeps {
  readonly assets: AssetStore;
  readonly signer: UrlSigner;
  /** Lifetime of the URLs minted for a render. */
  readonly ttlSeconds: number;
}

/** Signed URL per asset name. */
export type AssetUrls = Readonly<Record<string, string>>;

/**
 * At render time: checks that every asset the job names exists (a missing one fails the job before
 * Chromium starts, naming it), then has the signer mint short-lived CDN URLs for them.
 */
export async function signJobAssets(
  deps: SignAssetsDeps,
  tenant: string,
  refs: AssetRefs,
): Promise<AssetUrls> {
  const entries = Object.entries(refs);
  if (entries.length === 0) return {};
  const found = await Promise.all(entries.map(([, key]) => deps.assets.head(assetObjectKey(tenant, key))));
  const missing = entries.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    const list = missing.map(([name, key]) => `"${name}" (${key})`).join(", ");
    throw new PermanentRenderError(
      ASSET_MISSING,
      `${missing.length === 1 ? "Asset" : "Assets"} ${list} ${missing.length === 1 ? "does" : "do"} not exist: upload ${missing.length === 1 ? "it" : "them"} with PUT /v1/assets/{key} before rendering.`,
    );
  }
  const keys = [...new Set(entries.map(([, key]) => assetObjectKey(tenant, key)))];
  const signed = await deps.signer.sign(tenant, keys, deps.ttlSeconds);
  const byKey = new Map(signed.map((s) => [s.key, s.url]));
  const urls: Record<string, string> = {};
  for (const [name, key] of entries) {
    const url = byKey.get(assetObjectKey(tenant, key));
    if (!url) throw new Error(`The signer returned no URL for asset ${key}.`);
    urls[name] = url;
  }
  return urls;
}
