// Generated from the OpenAPI document (GET /openapi.json) by `npm run client:types`; edit the
// operation table (functions/handlers/api/operations.ts) and the zod schemas, not this file.

export interface Error {
  error: {
    /** Stable, machine-readable: `invalid_request`, `not_found`, … */
    code: string;
    /** A sentence that says what is wrong and what to do. */
    message: string;
    /** With `invalid_request`: each offending field. */
    fields?: readonly {
      /** Dotted path of the field, e.g. `output.width`; empty for the whole body. */
      field: string;
      message: string;
    }[];
  };
}

export interface Job {
  /** The job id Kiln assigned. */
  id: string;
  status: "queued" | "rendering" | "succeeded" | "failed";
  createdAt: string;
  updatedAt: string;
  /** Render attempts started so far. */
  attempts: number;
  /** The submitting request's correlation id, for finding its log lines. */
  correlationId?: string;
  /** Present once the job has succeeded. */
  output?: {
    /** CloudFront signed URL of the output, minted for this answer. */
    url: string;
    contentType: string;
    bytes: number;
    sha256: string;
    /** When `url` stops working; ask again for a fresh one. */
    expiresAt: string;
  };
  /** Present once the job has failed: a stable code and a sentence. */
  error?: {
    code: string;
    message: string;
  };
  /** Only for jobs submitted with a callbackUrl: the delivery of the completion event. */
  webhook?: {
    url: string;
    state: "waiting" | "pending" | "retrying" | "delivered" | "failed";
    attempts: readonly {
      attempt: number;
      at: string;
      /** The receiver's HTTP status, when it answered. */
      status?: number;
      /** Why the attempt failed, when it did. */
      error?: string;
      durationMs: number;
    }[];
    nextAttemptAt?: string;
  };
}

export interface SubmittedJob {
  /** The job id Kiln assigned. */
  id: string;
  status: "queued" | "rendering" | "succeeded" | "failed";
}

export interface RenderRequest {
  /** Inline `{html}`, or a stored template's exact `{id, version}`. */
  template: {
    /** Inline Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped. */
    html?: string;
    /** A stored template's id, with version. */
    id?: string;
    /** The stored template's exact version number (1, 2, …); never latest. */
    version?: unknown;
  };
  /** Values for the template, as JSON (at most 2 MiB). */
  data?: Record<string, unknown>;
  /** Asset name → key in the tenant's assets; templates use `{{ 'name' | asset_url }}` (at most 50). */
  assets?: Record<string, string>;
  /** What to produce: format, size and capture. */
  output: {
    /** The output's file format. */
    format: "png" | "jpeg" | "webp" | "pdf";
    /** Viewport width in CSS pixels. */
    width?: number;
    /** Viewport height in CSS pixels. */
    height?: number;
    /** Device pixels per CSS pixel (default 1). */
    scale?: number;
    /** Instead of scale: dots per inch, where 96 is a scale of 1. */
    dpi?: number;
    /** jpeg and webp only. */
    quality?: number;
    /** Capture the whole page, not just the viewport (images only). */
    fullPage?: boolean;
    /** Capture this rectangle of the page, in CSS pixels (images only). */
    clip?: {
      x: number;
      y: number;
      width: number;
      height: number;
    };
    /** Capture the first element matching this CSS selector (images only). */
    selector?: string;
    /** Leave the background transparent where the page paints none (png and webp). */
    transparent?: boolean;
    /** PDF options (format pdf only). */
    pdf?: {
      /** Paper: letter, legal, tabloid, ledger, a0, a1, a2, a3, a4, a5, a6 (any case) or {width, height}; default: the CSS @page size, else A4. */
      pageSize?: string | {
        width: number | string;
        height: number | string;
      };
      /** Rotate the paper. */
      landscape?: boolean;
      margin?: {
        top?: number | string;
        right?: number | string;
        bottom?: number | string;
        left?: number | string;
      };
      /** HTML drawn in the top margin of every page, hydrated with the job's data; inline styles only. Classes `pageNumber`, `totalPages` and `title` get those values; `date` gets the job's clock when it has one (as `1/2/26, 12:05 AM`, UTC), else the time of printing. */
      headerTemplate?: string;
      /** HTML drawn in the bottom margin of every page, like headerTemplate: `pageNumber`, `totalPages`, `title` and `date` classes get those values, `date` from the job's clock when it has one. */
      footerTemplate?: string;
      /** Pages to keep, e.g. "1-3, 5, 8-". */
      pageRanges?: string;
      /** Print background colours and images. */
      printBackground?: boolean;
      /** Whether CSS `@page { size }` beats pageSize; default true without a pageSize, false with one. */
      preferCssPageSize?: boolean;
    };
  };
  /** Wait for a selector or an expression after load, before capture: give exactly one of them. */
  waitFor?: {
    /** Wait until an element matches this CSS selector. */
    selector?: string;
    /** Wait until this JavaScript expression is truthy in the page. */
    expression?: string;
    /** How long to wait before the job fails with wait_timeout. */
    timeoutMs?: number;
  };
  /** Freeze the page's `Date` at this ISO-8601 instant. */
  clock?: string;
  /** "fail" (default): a font or image that failed to load fails the job; "ignore": render anyway. */
  resourceErrors?: "fail" | "ignore";
  timeoutMs?: number;
  /** Run the template's own JavaScript (default false, unless the stored template version allows it). Egress rules hold either way. */
  javascript?: boolean;
  /** "fail" (default): a request the egress rules block fails the job (`egress_blocked`); "ignore": render without the blocked resource. Navigating away always fails. */
  blockedRequests?: "fail" | "ignore";
  /** A signed webhook is POSTed here when the job ends (https, public host). */
  callbackUrl?: string;
}

export interface CreatedTemplateVersion {
  id: string;
  version: number;
  createdAt: string;
  /** SHA-256 of the HTML. */
  sha256: string;
  /** Size of the HTML in bytes. */
  bytes: number;
  /** Whether the data of every render of this version is checked by a JSON Schema. */
  hasSchema: boolean;
  /** Whether renders of this version run the template's own JavaScript. */
  javascript: boolean;
  /** false when the upload equals the latest version, which is answered instead. */
  created: boolean;
}

export interface CreateTemplate {
  /** The template's id; a new id starts at version 1. */
  id: string;
  /** Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped. */
  html: string;
  /** A JSON Schema (at most 64 KiB) the data of every render of this version must satisfy. */
  schema?: Record<string, unknown>;
  /** Renders of this version run the template's own JavaScript (default false). */
  javascript?: boolean;
}

export interface TemplateList {
  /** The latest version of each template, ordered by id. */
  templates: readonly {
    id: string;
    version: number;
    createdAt: string;
    /** SHA-256 of the HTML. */
    sha256: string;
    /** Size of the HTML in bytes. */
    bytes: number;
    /** Whether the data of every render of this version is checked by a JSON Schema. */
    hasSchema: boolean;
    /** Whether renders of this version run the template's own JavaScript. */
    javascript: boolean;
  }[];
}

export interface TemplateVersions {
  id: string;
  latestVersion: number;
  /** Oldest first. */
  versions: readonly {
    id: string;
    version: number;
    createdAt: string;
    /** SHA-256 of the HTML. */
    sha256: string;
    /** Size of the HTML in bytes. */
    bytes: number;
    /** Whether the data of every render of this version is checked by a JSON Schema. */
    hasSchema: boolean;
    /** Whether renders of this version run the template's own JavaScript. */
    javascript: boolean;
  }[];
}

export interface TemplateVersionSource {
  id: string;
  version: number;
  createdAt: string;
  /** SHA-256 of the HTML. */
  sha256: string;
  /** Size of the HTML in bytes. */
  bytes: number;
  /** Whether the data of every render of this version is checked by a JSON Schema. */
  hasSchema: boolean;
  /** Whether renders of this version run the template's own JavaScript. */
  javascript: boolean;
  html: string;
  schema?: Record<string, unknown>;
}

export interface StoredAsset {
  /** Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'. */
  key: string;
  bytes: number;
  contentType: string;
  sha256: string;
}

export interface AssetUpload {
  /** Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'. */
  key: string;
  /** Presigned S3 URL; it stores only this key, type and size. */
  url: string;
  method: "PUT";
  /** Send exactly these with the PUT (`content-type`, `content-length`, `cache-control`). */
  headers: Record<string, string>;
  /** The URL is refused after this instant. */
  expiresAt: string;
}

export interface AssetUploadRequest {
  /** Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'. */
  key: string;
  /** The file's type, one of the asset types; left out (or `application/octet-stream`), it comes from the key's extension. */
  contentType?: string;
  /** The file's exact size in bytes, at most 52428800 (50 MiB). */
  bytes: number;
}

export interface WebhookSecret {
  /** `whsec_…`: verify webhook signatures with it. */
  secret: string;
  scheme: "standard-webhooks-v1";
  /** Present after a rotation while the replaced secret still signs deliveries (a second `v1,…` signature in `webhook-signature`); absent once only `secret` signs. */
  previousSecretExpiresAt?: string;
}

export interface TenantSettings {
  egress: {
    allowHosts: unknown;
  };
}

export interface TenantSettingsInput {
  egress?: {
    allowHosts: readonly string[];
  };
}

export interface SubmittedBatch {
  /** The batch id Kiln assigned. */
  id: string;
  status: "queued" | "running" | "succeeded" | "partially_failed" | "failed";
  /** Records in the batch: one render job each. */
  total: number;
}

export interface BatchRequest {
  /** Inline `{html}`, or a stored template's exact `{id, version}`. */
  template: {
    /** Inline Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped. */
    html?: string;
    /** A stored template's id, with version. */
    id?: string;
    /** The stored template's exact version number (1, 2, …); never latest. */
    version?: unknown;
  };
  /** Asset name → key in the tenant's assets; templates use `{{ 'name' | asset_url }}` (at most 50). */
  assets?: Record<string, string>;
  /** What to produce: format, size and capture. */
  output: {
    /** The output's file format. */
    format: "png" | "jpeg" | "webp" | "pdf";
    /** Viewport width in CSS pixels. */
    width?: number;
    /** Viewport height in CSS pixels. */
    height?: number;
    /** Device pixels per CSS pixel (default 1). */
    scale?: number;
    /** Instead of scale: dots per inch, where 96 is a scale of 1. */
    dpi?: number;
    /** jpeg and webp only. */
    quality?: number;
    /** Capture the whole page, not just the viewport (images only). */
    fullPage?: boolean;
    /** Capture this rectangle of the page, in CSS pixels (images only). */
    clip?: {
      x: number;
      y: number;
      width: number;
      height: number;
    };
    /** Capture the first element matching this CSS selector (images only). */
    selector?: string;
    /** Leave the background transparent where the page paints none (png and webp). */
    transparent?: boolean;
    /** PDF options (format pdf only). */
    pdf?: {
      /** Paper: letter, legal, tabloid, ledger, a0, a1, a2, a3, a4, a5, a6 (any case) or {width, height}; default: the CSS @page size, else A4. */
      pageSize?: string | {
        width: number | string;
        height: number | string;
      };
      /** Rotate the paper. */
      landscape?: boolean;
      margin?: {
        top?: number | string;
        right?: number | string;
        bottom?: number | string;
        left?: number | string;
      };
      /** HTML drawn in the top margin of every page, hydrated with the job's data; inline styles only. Classes `pageNumber`, `totalPages` and `title` get those values; `date` gets the job's clock when it has one (as `1/2/26, 12:05 AM`, UTC), else the time of printing. */
      headerTemplate?: string;
      /** HTML drawn in the bottom margin of every page, like headerTemplate: `pageNumber`, `totalPages`, `title` and `date` classes get those values, `date` from the job's clock when it has one. */
      footerTemplate?: string;
      /** Pages to keep, e.g. "1-3, 5, 8-". */
      pageRanges?: string;
      /** Print background colours and images. */
      printBackground?: boolean;
      /** Whether CSS `@page { size }` beats pageSize; default true without a pageSize, false with one. */
      preferCssPageSize?: boolean;
    };
  };
  /** Wait for a selector or an expression after load, before capture: give exactly one of them. */
  waitFor?: {
    /** Wait until an element matches this CSS selector. */
    selector?: string;
    /** Wait until this JavaScript expression is truthy in the page. */
    expression?: string;
    /** How long to wait before the job fails with wait_timeout. */
    timeoutMs?: number;
  };
  /** Freeze the page's `Date` at this ISO-8601 instant. */
  clock?: string;
  /** "fail" (default): a font or image that failed to load fails the job; "ignore": render anyway. */
  resourceErrors?: "fail" | "ignore";
  timeoutMs?: number;
  /** Run the template's own JavaScript (default false, unless the stored template version allows it). Egress rules hold either way. */
  javascript?: boolean;
  /** "fail" (default): a request the egress rules block fails the job (`egress_blocked`); "ignore": render without the blocked resource. Navigating away always fails. */
  blockedRequests?: "fail" | "ignore";
  records?: readonly unknown[];
  /** Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'. */
  recordsKey?: string;
  callbackUrl?: string;
  zip?: boolean;
}

export interface Batch {
  /** The batch id Kiln assigned. */
  id: string;
  status: "queued" | "running" | "succeeded" | "partially_failed" | "failed";
  /** Records in the batch: one render job each. */
  total: number;
  createdAt: string;
  /** Jobs of the batch by status. */
  counts: {
    /** Includes records whose job has not been created yet. */
    queued: number;
    rendering: number;
    succeeded: number;
    failed: number;
  };
  /** Once complete: signed URL of the manifest (JSON: per record index its job id, status, output key, sha256, bytes and content type, or its error). */
  manifest?: {
    url: string;
    expiresAt: string;
    entries: number;
  };
  /** Only for batches submitted with `zip: true`: one zip of every output and the manifest. */
  zip?: {
    state: "pending" | "ready" | "failed";
    url?: string;
    expiresAt?: string;
    bytes?: number;
    message?: string;
  };
}

export interface BatchOutputsPage {
  items: readonly {
    index: number;
    jobId: string;
    status: "queued" | "rendering" | "succeeded" | "failed";
    output?: {
      url: string;
      expiresAt: string;
      contentType: string;
      bytes: number;
      sha256: string;
    };
    error?: {
      code: string;
      message: string;
    };
  }[];
  /** `start` of the next page; absent on the last. */
  next?: number;
}
