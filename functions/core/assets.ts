import { z } from "zod";
import { PermanentRenderError, ValidationError } from "./errors.js";
import type { UrlSigner } from "./ports.js";
import { jsonSchemaRules } from "./schema-rules.js";

/**
 * Tenant assets: brand images, signatures, web fonts and style sheets that templates reference by
 * name. They live in the assets bucket under `assets/<tenant>/<key>`, behind the CDN, and are only
 * reachable through URLs the signer mints when a job renders — never at submission, so a job that
 * waits in the queue longer than a URL's lifetime still gets fresh ones.
 */
export const ASSETS = {
  keyPrefix: "assets/",
  /**
   * Through `PUT /v1/assets/{key}`. API Gateway hands Lambda at most 6 MB and a binary body arrives
   * base64-encoded (4/3 larger) inside the event, so 4 MiB (5.33 MiB encoded) always fits.
   */
  maxBytes: 4 * 1024 * 1024,
  /**
   * Through a presigned URL (`POST /v1/asset-uploads`): the file goes straight to S3, never through
   * API Gateway or Lambda. Chromium loads assets from the CDN; the worker never holds them in memory.
   */
  maxUploadBytes: 50 * 1024 * 1024,
  /** Lifetime of an upload URL: long enough to start sending 50 MiB, short enough not to be kept. */
  uploadUrlTtlSeconds: 300,
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

/** `4 MiB` for 4194304. */
export function mebibytes(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}

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
  .describe("Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'.")
  .register(jsonSchemaRules, { not: { pattern: "(?:^|/)\\.\\.?(?:/|$)" } });

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
  })
  .register(jsonSchemaRules, { maxProperties: ASSETS.maxPerJob });
export type AssetRefs = z.output<typeof AssetRefsSchema>;

/** The object key of a tenant's asset in the assets bucket (and the path behind the CDN). */
export function assetObjectKey(tenant: string, key: string): string {
  return `${ASSETS.keyPrefix}${tenant}/${key}`;
}

export interface AssetInfo {
  readonly bytes: number;
  readonly contentType: string;
  /** The store's tag of the object's content (S3's ETag). */
  readonly etag?: string;
  /** ISO-8601 instant the object was last written: every upload under a key gets a new one. */
  readonly lastModified?: string;
}

/** The assets bucket. */
export interface AssetStore {
  /** Undefined when there is no such object. */
  head(objectKey: string): Promise<AssetInfo | undefined>;
  put(objectKey: string, body: Uint8Array, contentType: string): Promise<void>;
}

/** What an upload URL allows: one PUT of exactly this object, type and size. */
export interface AssetUploadScope {
  readonly contentType: string;
  readonly bytes: number;
  readonly cacheControl: string;
}

/** Mints presigned PUT URLs into the assets bucket, with the api function's own credentials. */
export interface AssetUploadSigner {
  /** A URL signed at `signedAt`, valid `expiresInSeconds` after, that stores the object only with the scope's headers. */
  presignPut(
    objectKey: string,
    scope: AssetUploadScope,
    signedAt: Date,
    expiresInSeconds: number,
  ): Promise<string>;
}

export const AssetUploadRequestSchema = z.strictObject({
  key: AssetKeySchema,
  contentType: z
    .string()
    .max(255)
    .optional()
    .describe(
      "The file's type, one of the asset types; left out (or `application/octet-stream`), it comes from the key's extension.",
    ),
  bytes: z
    .int()
    .min(1)
    .max(ASSETS.maxUploadBytes)
    .describe(
      `The file's exact size in bytes, at most ${ASSETS.maxUploadBytes} (${mebibytes(ASSETS.maxUploadBytes)}).`,
    ),
});
export type AssetUploadRequest = z.output<typeof AssetUploadRequestSchema>;

export interface AssetUploadView {
  readonly key: string;
  readonly url: string;
  readonly method: "PUT";
  /** Send exactly these with the PUT: they are part of the signature. */
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: string;
}

/**
 * A presigned PUT of one asset, scoped to `assets/<tenant>/<key>`, the asset's content type, its exact
 * size and the assets' Cache-Control, valid for `ASSETS.uploadUrlTtlSeconds`. The same key and type
 * rules as PUT /v1/assets/{key}; a type Kiln does not serve is a 400 naming `contentType`.
 */
export async function createAssetUpload(
  signer: AssetUploadSigner,
  tenant: string,
  request: AssetUploadRequest,
  now: Date,
): Promise<AssetUploadView> {
  const generic = !request.contentType || /^application\/octet-stream\b/i.test(request.contentType);
  const contentType = generic ? contentTypeForAsset(request.key) : acceptedAssetType(request.contentType);
  if (!contentType) {
    throw new ValidationError([
      {
        field: generic ? "key" : "contentType",
        message: generic
          ? "has no extension of an asset type: name the type in contentType"
          : `must be one of ${[...ALLOWED_TYPES].join(", ")}`,
      },
    ]);
  }
  const scope: AssetUploadScope = { contentType, bytes: request.bytes, cacheControl: ASSETS.cacheControl };
  const ttl = ASSETS.uploadUrlTtlSeconds;
  const url = await signer.presignPut(assetObjectKey(tenant, request.key), scope, now, ttl);
  return {
    key: request.key,
    url,
    method: "PUT",
    headers: {
      "content-type": scope.contentType,
      "content-length": String(scope.bytes),
      "cache-control": scope.cacheControl,
    },
    expiresAt: new Date(now.getTime() + ttl * 1000).toISOString(),
  };
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

/** The stored version of each asset a job names, by name; a missing one is left out. */
export async function headJobAssets(
  store: AssetStore,
  tenant: string,
  refs: AssetRefs,
): Promise<Record<string, AssetInfo>> {
  const entries = Object.entries(refs);
  const found = await Promise.all(entries.map(([, key]) => store.head(assetObjectKey(tenant, key))));
  return Object.fromEntries(entries.flatMap(([name], i) => (found[i] ? [[name, found[i]]] : [])));
}

/**
 * At render time: checks that every asset the job names exists (a missing one fails the job before
 * Chromium starts, naming it), then has the signer mint short-lived CDN URLs for them. Returns the
 * assets' stored versions too: what the render used, for its provenance.
 */
export async function signJobAssets(
  deps: SignAssetsDeps,
  tenant: string,
  refs: AssetRefs,
): Promise<{ urls: AssetUrls; versions: Record<string, AssetInfo> }> {
  const entries = Object.entries(refs);
  if (entries.length === 0) return { urls: {}, versions: {} };
  const versions = await headJobAssets(deps.assets, tenant, refs);
  const missing = entries.filter(([name]) => versions[name] === undefined);
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
  return { urls, versions };
}
