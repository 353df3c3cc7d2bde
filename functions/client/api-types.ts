// Generated from the OpenAPI document (GET /openapi.json) by `npm run client:types`; edit the
// operation table (functions/handlers/api/operations.ts) and the zod schemas, not this file.

export interface Error {
  /** Every error answer has this one field. */
  error: {
    /** Stable, machine-readable: `invalid_request`, `not_found`, … */
    code: string;
    /** A sentence that says what is wrong and what to do. */
    message: string;
    /** With `invalid_request`: each offending field. */
    fields?: readonly {
      /** Dotted path of the field, e.g. `output.width`; empty for the whole body. */
      field: string;
      /** What is wrong with it, e.g. `expected a string, got number`. */
      message: string;
    }[];
  };
}

export interface Job {
  /** The job id Kiln assigned. */
  id: string;
  /** Where the job is: queued, rendering, succeeded or failed (the last two are final). */
  status: "queued" | "rendering" | "succeeded" | "failed";
  /** When it was created (ISO 8601, UTC). */
  createdAt: string;
  /** When its status last changed (ISO 8601, UTC). */
  updatedAt: string;
  /** Render attempts started so far. */
  attempts: number;
  /** The submitting request's correlation id, for finding its log lines. */
  correlationId?: string;
  /** Present once the job has succeeded. */
  output?: {
    /** CloudFront signed URL of the output, minted for this answer. */
    url: string;
    /** Media type, e.g. `image/png` or `application/pdf`. */
    contentType: string;
    /** Size in bytes. */
    bytes: number;
    /** SHA-256 of the bytes, in hex. */
    sha256: string;
    /** When `url` stops working; ask again for a fresh one. */
    expiresAt: string;
    /** URL jobs only: the main document rendered. A live page is not byte-deterministic. */
    document?: {
      /** The page's final URL, after redirects. */
      url: string;
      /** Of the page's main document as it was served. */
      sha256: string;
    };
  };
  /** Present once the job has failed: a stable code and a sentence. */
  error?: {
    /** Stable failure code, e.g. `template_error`; docs/operations.md lists them. */
    code: string;
    /** What went wrong, in a sentence. */
    message: string;
  };
  /** hit: served at submission with the output of an earlier job with identical inputs (no render); miss: looked up, not found, rendered; bypass: not looked up (see cacheBypassReason). */
  cache?: "hit" | "miss" | "bypass";
  /** A hit: the job whose output this job shares. */
  cachedFrom?: string;
  /** A bypass: why the job could not be served from the render cache. */
  cacheBypassReason?: string;
  /** What produced the output (once succeeded, as the worker rendered it; before, as known at submission): enough to trace and reproduce it. */
  provenance?: {
    /** Digests of the job's inputs. */
    inputs: {
      /** SHA-256 of the template's HTML (a stored version's `sha256`); absent for a URL job. */
      template?: string;
      /** SHA-256 of the data as canonical JSON (keys sorted). */
      data: string;
      /** Per asset name: SHA-256 of the stored object's version (key, ETag, Last-Modified, type, size); a re-upload is a new version. */
      assets: Record<string, string>;
      /** SHA-256 of the output options and the other request fields that shape the page, as canonical JSON. */
      options: string;
    };
    /** What rendered, besides the inputs. */
    renderer: {
      /** Kiln's version. */
      kiln: string;
      /** The Chromium build, e.g. 153.0.8010.0. */
      chromium: string;
      /** The font pack's hash: its sources and pinned versions. */
      fontPack: string;
    };
    /** SHA-256 of inputs and renderer: the job's render-cache key. */
    cacheKey: string;
  };
  /** Only for jobs submitted with a callbackUrl: the delivery of the completion event. */
  webhook?: {
    /** The callbackUrl the event is POSTed to. */
    url: string;
    /** waiting for the job to end, pending (about to be sent), retrying after a failed attempt, delivered, or failed for good. */
    state: "waiting" | "pending" | "retrying" | "delivered" | "failed";
    /** Every delivery attempt so far, oldest first. */
    attempts: readonly {
      /** 1 for the first delivery attempt, then 2, … */
      attempt: number;
      /** When the attempt was made. */
      at: string;
      /** The receiver's HTTP status, when it answered. */
      status?: number;
      /** Why the attempt failed, when it did. */
      error?: string;
      /** How long the receiver took, in ms. */
      durationMs: number;
    }[];
    /** When it is retried next, while retrying. */
    nextAttemptAt?: string;
  };
}

export interface SubmittedJob {
  /** The job id Kiln assigned. */
  id: string;
  /** Where the job is: queued, rendering, succeeded or failed (the last two are final). */
  status: "queued" | "rendering" | "succeeded" | "failed";
}

export interface RenderRequest {
  /** Inline `{html}`, or a stored template's exact `{id, version}`. Give a template or a source, not both. */
  template?: {
    /** Inline Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped. */
    html?: string;
    /** A stored template's id, with version. */
    id?: string;
    /** The stored template's exact version number (1, 2, …); never latest. */
    version?: number;
  };
  /** Instead of a template: a live page `{url, headers?, cookies?}` to render. It cannot be byte-deterministic: the job records the final URL and sha256 of the document it rendered. */
  source?: {
    /** The page to render: an https URL on a host in the tenant's egress.allowHosts (plain http only for a local stack's KILN_LOCAL_HOSTS names). */
    url: string;
    /** Extra request headers, sent only to the URL's own origin; kept secret (never stored in plain text, logged or returned). */
    headers?: Record<string, string>;
    /** Cookies (name → value), sent only to the URL's own origin; kept secret like headers. The page's scripts do not see them. */
    cookies?: Record<string, string>;
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
      /** Left edge, in CSS pixels from the page's left. */
      x: number;
      /** Top edge, in CSS pixels from the page's top. */
      y: number;
      /** Width in CSS pixels. */
      width: number;
      /** Height in CSS pixels. */
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
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        width: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        height: number | string;
      };
      /** Rotate the paper. */
      landscape?: boolean;
      /** Page margins, each a CSS length (default 0); the template's CSS `@page { margin }` wins where it sets one. */
      margin?: {
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        top?: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        right?: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        bottom?: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
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
      /** Parts appended after the job's document, each a template or a stored PDF with an outline entry (at most 20). */
      parts?: readonly {
        /** The part's entry in the PDF outline. */
        bookmark: string;
        /** A template rendered for this part (inline or stored). */
        template?: {
          /** Inline Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped. */
          html?: string;
          /** A stored template's id, with version. */
          id?: string;
          /** The stored template's exact version number (1, 2, …); never latest. */
          version?: number;
        };
        /** Values for the part's template. */
        data?: Record<string, unknown>;
        /** Asset name → key, for the part's template. */
        assets?: Record<string, string>;
        /** The part's own paper, orientation and margins. */
        pdf?: {
          /** Paper: letter, legal, tabloid, ledger, a0, a1, a2, a3, a4, a5, a6 (any case) or {width, height}; default: the CSS @page size, else A4. */
          pageSize?: string | {
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            width: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            height: number | string;
          };
          /** Rotate the paper. */
          landscape?: boolean;
          /** Page margins, each a CSS length (default 0); the template's CSS `@page { margin }` wins where it sets one. */
          margin?: {
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            top?: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            right?: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            bottom?: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
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
        /** Or: a stored PDF in the tenant's assets. */
        asset?: string;
      }[];
      /** The job's own document's entry in the outline when there are parts (default: its title). */
      bookmark?: string;
      /** Document metadata, in the Info dictionary and in XMP. */
      metadata?: {
        /** Document title (Info /Title and XMP dc:title). */
        title?: string;
        /** Author (Info /Author and XMP dc:creator). */
        author?: string;
        /** Subject (Info /Subject and XMP dc:description). */
        subject?: string;
        /** Keywords (Info /Keywords and XMP pdf:Keywords), at most 50. */
        keywords?: readonly string[];
        /** The application that made the source (Info /Creator). */
        creator?: string;
        /** The application that made the PDF (Info /Producer; default "Kiln"). */
        producer?: string;
        /** Document language, a BCP 47 tag such as "en-GB" (catalog /Lang). */
        language?: string;
      };
      /** Text or image stamps, drawn in order (at most 10). */
      stamps?: readonly {
        /** Text to stamp. */
        text?: string;
        /** Or: a PNG or JPEG in the tenant's assets to stamp. */
        image?: string;
        /** Pages to stamp, e.g. "1-3, 5, 8-" (default every page). */
        pages?: string;
        /** Over the content, or under it. */
        layer?: "over" | "under";
        /** Where on the page. */
        position?: "center" | "top-left" | "top" | "top-right" | "left" | "right" | "bottom-left" | "bottom" | "bottom-right";
        /** 0 (invisible) to 1 (opaque). */
        opacity?: number;
        /** Degrees counter-clockwise. */
        rotation?: number;
        /** A face of Kiln's font pack, embedded (subset) in the PDF. */
        font?: "Noto Sans" | "Noto Sans Bold" | "Noto Sans Italic" | "Noto Serif" | "Noto Serif Bold";
        /** In points. */
        fontSize?: number;
        /** Text colour, #RRGGBB. */
        color?: string;
        /** Image width in points (default its own). */
        width?: number;
        /** Distance from the page edge in points. */
        margin?: number;
      }[];
      /** Files embedded in the PDF (at most 10). */
      attachments?: readonly {
        /** File name shown to readers, e.g. `factur-x.xml`. */
        name: string;
        /** A file in the tenant's assets. */
        asset?: string;
        /** Or: the file's content inline (see `encoding`). */
        content?: string;
        /** How `content` is written. */
        encoding?: "utf8" | "base64";
        /** The file's MIME type, e.g. `text/xml`. */
        mimeType: string;
        /** What the file is. */
        description?: string;
        /** PDF/A-3 relationship to the document (/AFRelationship). */
        relationship?: "Data" | "Source" | "Alternative" | "Supplement" | "Unspecified";
      }[];
      /** AES-256 encryption. Passwords are never logged or returned, and are redacted when the job ends. */
      protection?: {
        /** Needed to open the PDF. */
        userPassword?: string;
        /** Lifts the permissions; default: a random one nobody is told, so the permissions hold. */
        ownerPassword?: string;
        /** What a reader who opened it with the user password may do. */
        permissions?: {
          /** Readers may print (default true). */
          print?: boolean;
          /** Readers may copy text and images (default false). */
          copy?: boolean;
          /** Readers may change the document (default false). */
          modify?: boolean;
          /** Readers may add comments and fill forms (default false). */
          annotate?: boolean;
        };
      };
      /** Marks the PDF/A-3b as a Factur-X / ZUGFeRD hybrid invoice: the `fx:` XMP properties and their extension schema. */
      facturX?: {
        /** The name of the attachment that holds the invoice XML. */
        attachment?: string;
        /** The Factur-X profile of the XML. */
        profile: "MINIMUM" | "BASIC WL" | "BASIC" | "EN 16931" | "EXTENDED" | "XRECHNUNG";
      };
      /** Archival PDF/A: XMP identification, an sRGB output intent; no encryption. */
      standard?: "PDF/A-2b" | "PDF/A-3b";
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
  /** The CSS media type to render for: "screen" or "print" (default: Chromium's, print for PDFs and screen for images). */
  emulateMedia?: "screen" | "print";
  /** Freeze the page's `Date` at this ISO-8601 instant. */
  clock?: string;
  /** "fail" (default): a font or image that failed to load fails the job; "ignore": render anyway. */
  resourceErrors?: "fail" | "ignore";
  /** This job's render budget in ms, 1000–30000; default and maximum: the worker's. */
  timeoutMs?: number;
  /** Run the template's own JavaScript (default false, unless the stored template version allows it). Egress rules hold either way. */
  javascript?: boolean;
  /** "fail" (default): a request the egress rules block fails the job (`egress_blocked`); "ignore": render without the blocked resource. Navigating away always fails. */
  blockedRequests?: "fail" | "ignore";
  /** false: render anew even if an earlier job had identical inputs, and do not offer this output to later jobs (default true). */
  cache?: boolean;
  /** A signed webhook is POSTed here when the job ends (https, public host). */
  callbackUrl?: string;
}

export interface CreatedTemplateVersion {
  /** The template's id. */
  id: string;
  /** The version number: 1, 2, … */
  version: number;
  /** When it was created (ISO 8601, UTC). */
  createdAt: string;
  /** SHA-256 of the HTML. */
  sha256: string;
  /** Size of the HTML in bytes. */
  bytes: number;
  /** Whether the data of every render of this version is checked by a JSON Schema. */
  hasSchema: boolean;
  /** Whether renders of this version run the template's own JavaScript. */
  javascript: boolean;
  /** PDF metadata of the PDFs rendered from this version. */
  pdfMetadata?: {
    /** Document title (Info /Title and XMP dc:title). */
    title?: string;
    /** Author (Info /Author and XMP dc:creator). */
    author?: string;
    /** Subject (Info /Subject and XMP dc:description). */
    subject?: string;
    /** Keywords (Info /Keywords and XMP pdf:Keywords), at most 50. */
    keywords?: readonly string[];
    /** The application that made the source (Info /Creator). */
    creator?: string;
    /** The application that made the PDF (Info /Producer; default "Kiln"). */
    producer?: string;
    /** Document language, a BCP 47 tag such as "en-GB" (catalog /Lang). */
    language?: string;
  };
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
  /** PDF metadata of every PDF rendered from this version; a job's `output.pdf.metadata` overrides it field by field. */
  pdfMetadata?: {
    /** Document title (Info /Title and XMP dc:title). */
    title?: string;
    /** Author (Info /Author and XMP dc:creator). */
    author?: string;
    /** Subject (Info /Subject and XMP dc:description). */
    subject?: string;
    /** Keywords (Info /Keywords and XMP pdf:Keywords), at most 50. */
    keywords?: readonly string[];
    /** The application that made the source (Info /Creator). */
    creator?: string;
    /** The application that made the PDF (Info /Producer; default "Kiln"). */
    producer?: string;
    /** Document language, a BCP 47 tag such as "en-GB" (catalog /Lang). */
    language?: string;
  };
}

export interface TemplateList {
  /** The latest version of each template, ordered by id. */
  templates: readonly {
    /** The template's id. */
    id: string;
    /** The version number: 1, 2, … */
    version: number;
    /** When it was created (ISO 8601, UTC). */
    createdAt: string;
    /** SHA-256 of the HTML. */
    sha256: string;
    /** Size of the HTML in bytes. */
    bytes: number;
    /** Whether the data of every render of this version is checked by a JSON Schema. */
    hasSchema: boolean;
    /** Whether renders of this version run the template's own JavaScript. */
    javascript: boolean;
    /** PDF metadata of the PDFs rendered from this version. */
    pdfMetadata?: {
      /** Document title (Info /Title and XMP dc:title). */
      title?: string;
      /** Author (Info /Author and XMP dc:creator). */
      author?: string;
      /** Subject (Info /Subject and XMP dc:description). */
      subject?: string;
      /** Keywords (Info /Keywords and XMP pdf:Keywords), at most 50. */
      keywords?: readonly string[];
      /** The application that made the source (Info /Creator). */
      creator?: string;
      /** The application that made the PDF (Info /Producer; default "Kiln"). */
      producer?: string;
      /** Document language, a BCP 47 tag such as "en-GB" (catalog /Lang). */
      language?: string;
    };
  }[];
}

export interface TemplateVersions {
  /** The template's id. */
  id: string;
  /** The highest version number. */
  latestVersion: number;
  /** Oldest first. */
  versions: readonly {
    /** The template's id. */
    id: string;
    /** The version number: 1, 2, … */
    version: number;
    /** When it was created (ISO 8601, UTC). */
    createdAt: string;
    /** SHA-256 of the HTML. */
    sha256: string;
    /** Size of the HTML in bytes. */
    bytes: number;
    /** Whether the data of every render of this version is checked by a JSON Schema. */
    hasSchema: boolean;
    /** Whether renders of this version run the template's own JavaScript. */
    javascript: boolean;
    /** PDF metadata of the PDFs rendered from this version. */
    pdfMetadata?: {
      /** Document title (Info /Title and XMP dc:title). */
      title?: string;
      /** Author (Info /Author and XMP dc:creator). */
      author?: string;
      /** Subject (Info /Subject and XMP dc:description). */
      subject?: string;
      /** Keywords (Info /Keywords and XMP pdf:Keywords), at most 50. */
      keywords?: readonly string[];
      /** The application that made the source (Info /Creator). */
      creator?: string;
      /** The application that made the PDF (Info /Producer; default "Kiln"). */
      producer?: string;
      /** Document language, a BCP 47 tag such as "en-GB" (catalog /Lang). */
      language?: string;
    };
  }[];
}

export interface TemplateVersionSource {
  /** The template's id. */
  id: string;
  /** The version number: 1, 2, … */
  version: number;
  /** When it was created (ISO 8601, UTC). */
  createdAt: string;
  /** SHA-256 of the HTML. */
  sha256: string;
  /** Size of the HTML in bytes. */
  bytes: number;
  /** Whether the data of every render of this version is checked by a JSON Schema. */
  hasSchema: boolean;
  /** Whether renders of this version run the template's own JavaScript. */
  javascript: boolean;
  /** PDF metadata of the PDFs rendered from this version. */
  pdfMetadata?: {
    /** Document title (Info /Title and XMP dc:title). */
    title?: string;
    /** Author (Info /Author and XMP dc:creator). */
    author?: string;
    /** Subject (Info /Subject and XMP dc:description). */
    subject?: string;
    /** Keywords (Info /Keywords and XMP pdf:Keywords), at most 50. */
    keywords?: readonly string[];
    /** The application that made the source (Info /Creator). */
    creator?: string;
    /** The application that made the PDF (Info /Producer; default "Kiln"). */
    producer?: string;
    /** Document language, a BCP 47 tag such as "en-GB" (catalog /Lang). */
    language?: string;
  };
  /** The version's Liquid HTML. */
  html: string;
  /** The JSON Schema the data of every render of this version must satisfy, when it has one. */
  schema?: Record<string, unknown>;
}

export interface StoredAsset {
  /** Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'. */
  key: string;
  /** Size of the file in bytes. */
  bytes: number;
  /** Media type, e.g. `image/png` or `application/pdf`. */
  contentType: string;
  /** SHA-256 of the bytes, in hex. */
  sha256: string;
}

export interface AssetUpload {
  /** Key in the tenant's assets, e.g. `brand/logo-v2.png`: letters, digits, '.', '_', '-' and '/'. */
  key: string;
  /** Presigned S3 URL; it stores only this key, type and size. */
  url: string;
  /** The HTTP method the URL is signed for. */
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
  /** How deliveries are signed: Standard Webhooks v1. */
  scheme: "standard-webhooks-v1";
  /** Present after a rotation while the replaced secret still signs deliveries (a second `v1,…` signature in `webhook-signature`); absent once only `secret` signs. */
  previousSecretExpiresAt?: string;
}

export interface TenantSettings {
  /** What templates and live pages may reach over the network. */
  egress: {
    /** Hosts templates may load from over https besides Kiln's own assets, at most 100: `cdn.example.com` or `*.example.com`; no schemes, paths, ports or IP addresses. */
    allowHosts: readonly string[];
  };
  /** What URL jobs (`source.url`) may do beyond loading allowed hosts. */
  urlJobs?: {
    /** Hosts whose pages may run their JavaScript in a URL job that asks for it (`"javascript": true`): exact names or `*.example.com`. Requests still go only to allowed hosts. */
    javascriptHosts: readonly string[];
  };
}

export interface TenantSettingsInput {
  /** What templates and live pages may reach over the network. */
  egress?: {
    /** Hosts templates may load from over https besides Kiln's own assets, at most 100: `cdn.example.com` or `*.example.com`; no schemes, paths, ports or IP addresses. */
    allowHosts: readonly string[];
  };
  /** What URL jobs (`source.url`) may do beyond loading allowed hosts. */
  urlJobs?: {
    /** Hosts whose pages may run their JavaScript in a URL job that asks for it (`"javascript": true`): exact names or `*.example.com`. Requests still go only to allowed hosts. */
    javascriptHosts: readonly string[];
  };
}

export interface SubmittedBatch {
  /** The batch id Kiln assigned. */
  id: string;
  /** queued, running, or once every job has ended: succeeded, partially_failed or failed. */
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
    version?: number;
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
      /** Left edge, in CSS pixels from the page's left. */
      x: number;
      /** Top edge, in CSS pixels from the page's top. */
      y: number;
      /** Width in CSS pixels. */
      width: number;
      /** Height in CSS pixels. */
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
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        width: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        height: number | string;
      };
      /** Rotate the paper. */
      landscape?: boolean;
      /** Page margins, each a CSS length (default 0); the template's CSS `@page { margin }` wins where it sets one. */
      margin?: {
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        top?: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        right?: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
        bottom?: number | string;
        /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
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
      /** Parts appended after the job's document, each a template or a stored PDF with an outline entry (at most 20). */
      parts?: readonly {
        /** The part's entry in the PDF outline. */
        bookmark: string;
        /** A template rendered for this part (inline or stored). */
        template?: {
          /** Inline Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped. */
          html?: string;
          /** A stored template's id, with version. */
          id?: string;
          /** The stored template's exact version number (1, 2, …); never latest. */
          version?: number;
        };
        /** Values for the part's template. */
        data?: Record<string, unknown>;
        /** Asset name → key, for the part's template. */
        assets?: Record<string, string>;
        /** The part's own paper, orientation and margins. */
        pdf?: {
          /** Paper: letter, legal, tabloid, ledger, a0, a1, a2, a3, a4, a5, a6 (any case) or {width, height}; default: the CSS @page size, else A4. */
          pageSize?: string | {
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            width: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            height: number | string;
          };
          /** Rotate the paper. */
          landscape?: boolean;
          /** Page margins, each a CSS length (default 0); the template's CSS `@page { margin }` wins where it sets one. */
          margin?: {
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            top?: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            right?: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
            bottom?: number | string;
            /** A CSS length, such as "16mm", "1in", "2.5cm", "40px" or "0"; a bare number is px. At most 100 inches. */
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
        /** Or: a stored PDF in the tenant's assets. */
        asset?: string;
      }[];
      /** The job's own document's entry in the outline when there are parts (default: its title). */
      bookmark?: string;
      /** Document metadata, in the Info dictionary and in XMP. */
      metadata?: {
        /** Document title (Info /Title and XMP dc:title). */
        title?: string;
        /** Author (Info /Author and XMP dc:creator). */
        author?: string;
        /** Subject (Info /Subject and XMP dc:description). */
        subject?: string;
        /** Keywords (Info /Keywords and XMP pdf:Keywords), at most 50. */
        keywords?: readonly string[];
        /** The application that made the source (Info /Creator). */
        creator?: string;
        /** The application that made the PDF (Info /Producer; default "Kiln"). */
        producer?: string;
        /** Document language, a BCP 47 tag such as "en-GB" (catalog /Lang). */
        language?: string;
      };
      /** Text or image stamps, drawn in order (at most 10). */
      stamps?: readonly {
        /** Text to stamp. */
        text?: string;
        /** Or: a PNG or JPEG in the tenant's assets to stamp. */
        image?: string;
        /** Pages to stamp, e.g. "1-3, 5, 8-" (default every page). */
        pages?: string;
        /** Over the content, or under it. */
        layer?: "over" | "under";
        /** Where on the page. */
        position?: "center" | "top-left" | "top" | "top-right" | "left" | "right" | "bottom-left" | "bottom" | "bottom-right";
        /** 0 (invisible) to 1 (opaque). */
        opacity?: number;
        /** Degrees counter-clockwise. */
        rotation?: number;
        /** A face of Kiln's font pack, embedded (subset) in the PDF. */
        font?: "Noto Sans" | "Noto Sans Bold" | "Noto Sans Italic" | "Noto Serif" | "Noto Serif Bold";
        /** In points. */
        fontSize?: number;
        /** Text colour, #RRGGBB. */
        color?: string;
        /** Image width in points (default its own). */
        width?: number;
        /** Distance from the page edge in points. */
        margin?: number;
      }[];
      /** Files embedded in the PDF (at most 10). */
      attachments?: readonly {
        /** File name shown to readers, e.g. `factur-x.xml`. */
        name: string;
        /** A file in the tenant's assets. */
        asset?: string;
        /** Or: the file's content inline (see `encoding`). */
        content?: string;
        /** How `content` is written. */
        encoding?: "utf8" | "base64";
        /** The file's MIME type, e.g. `text/xml`. */
        mimeType: string;
        /** What the file is. */
        description?: string;
        /** PDF/A-3 relationship to the document (/AFRelationship). */
        relationship?: "Data" | "Source" | "Alternative" | "Supplement" | "Unspecified";
      }[];
      /** AES-256 encryption. Passwords are never logged or returned, and are redacted when the job ends. */
      protection?: {
        /** Needed to open the PDF. */
        userPassword?: string;
        /** Lifts the permissions; default: a random one nobody is told, so the permissions hold. */
        ownerPassword?: string;
        /** What a reader who opened it with the user password may do. */
        permissions?: {
          /** Readers may print (default true). */
          print?: boolean;
          /** Readers may copy text and images (default false). */
          copy?: boolean;
          /** Readers may change the document (default false). */
          modify?: boolean;
          /** Readers may add comments and fill forms (default false). */
          annotate?: boolean;
        };
      };
      /** Marks the PDF/A-3b as a Factur-X / ZUGFeRD hybrid invoice: the `fx:` XMP properties and their extension schema. */
      facturX?: {
        /** The name of the attachment that holds the invoice XML. */
        attachment?: string;
        /** The Factur-X profile of the XML. */
        profile: "MINIMUM" | "BASIC WL" | "BASIC" | "EN 16931" | "EXTENDED" | "XRECHNUNG";
      };
      /** Archival PDF/A: XMP identification, an sRGB output intent; no encryption. */
      standard?: "PDF/A-2b" | "PDF/A-3b";
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
  /** The CSS media type to render for: "screen" or "print" (default: Chromium's, print for PDFs and screen for images). */
  emulateMedia?: "screen" | "print";
  /** Freeze the page's `Date` at this ISO-8601 instant. */
  clock?: string;
  /** "fail" (default): a font or image that failed to load fails the job; "ignore": render anyway. */
  resourceErrors?: "fail" | "ignore";
  /** This job's render budget in ms, 1000–30000; default and maximum: the worker's. */
  timeoutMs?: number;
  /** Run the template's own JavaScript (default false, unless the stored template version allows it). Egress rules hold either way. */
  javascript?: boolean;
  /** "fail" (default): a request the egress rules block fails the job (`egress_blocked`); "ignore": render without the blocked resource. Navigating away always fails. */
  blockedRequests?: "fail" | "ignore";
  /** false: render anew even if an earlier job had identical inputs, and do not offer this output to later jobs (default true). */
  cache?: boolean;
  /** One data object per document, rendered in this order (at most 10000); or give recordsKey. */
  records?: readonly Record<string, unknown>[];
  /** Instead of records: the key of a JSONL asset, one data object per line (at most 50000). */
  recordsKey?: string;
  /** Each render's signed completion event is POSTed here, as with POST /v1/renders. */
  callbackUrl?: string;
  /** Also produce one zip of all outputs and the manifest once the batch is complete. */
  zip?: boolean;
  /** Also produce one PDF of every succeeded record in record order, one bookmark per record ("Record 0", …), once the batch is complete. Only for output.format "pdf". */
  mergePdf?: boolean;
}

export interface Batch {
  /** The batch id Kiln assigned. */
  id: string;
  /** queued, running, or once every job has ended: succeeded, partially_failed or failed. */
  status: "queued" | "running" | "succeeded" | "partially_failed" | "failed";
  /** Records in the batch: one render job each. */
  total: number;
  /** When it was created (ISO 8601, UTC). */
  createdAt: string;
  /** Jobs of the batch by status. */
  counts: {
    /** Includes records whose job has not been created yet. */
    queued: number;
    /** Jobs rendering now. */
    rendering: number;
    /** Jobs that succeeded. */
    succeeded: number;
    /** Jobs that failed. */
    failed: number;
  };
  /** Once complete: signed URL of the manifest (JSON: per record index its job id, status, output key, sha256, bytes and content type, or its error). */
  manifest?: {
    /** Signed URL of the manifest. */
    url: string;
    /** When `url` stops working; ask again for a fresh one. */
    expiresAt: string;
    /** Records in the manifest. */
    entries: number;
  };
  /** Only for batches submitted with `zip: true`: one zip of every output and the manifest. */
  zip?: {
    /** pending while it is made, then ready or failed. */
    state: "pending" | "ready" | "failed";
    /** Signed URL of the zip, once ready. */
    url?: string;
    /** When `url` stops working; ask again for a fresh one. */
    expiresAt?: string;
    /** Size in bytes. */
    bytes?: number;
    /** Why no zip could be made, when it failed. */
    message?: string;
  };
  /** Only for batches submitted with `mergePdf: true`: one PDF of every succeeded record in record order, a bookmark per record; the manifest's `mergedPdf` lists the records in it and those left out. */
  mergedPdf?: {
    /** pending while it is made, then ready or failed. */
    state: "pending" | "ready" | "failed";
    /** Signed URL of the merged PDF, once ready. */
    url?: string;
    /** When `url` stops working; ask again for a fresh one. */
    expiresAt?: string;
    /** Size in bytes. */
    bytes?: number;
    /** Why no merged PDF could be made, when it failed. */
    message?: string;
  };
}

export interface BatchOutputsPage {
  /** The page's records, by index. */
  items: readonly {
    /** The record's position in the batch, from 0. */
    index: number;
    /** The job id Kiln assigned. */
    jobId: string;
    /** Where the job is: queued, rendering, succeeded or failed (the last two are final). */
    status: "queued" | "rendering" | "succeeded" | "failed";
    /** Present once the record's job has succeeded. */
    output?: {
      /** CloudFront signed URL of the output, minted for this answer. */
      url: string;
      /** Media type, e.g. `image/png` or `application/pdf`. */
      contentType: string;
      /** Size in bytes. */
      bytes: number;
      /** SHA-256 of the bytes, in hex. */
      sha256: string;
      /** When `url` stops working; ask again for a fresh one. */
      expiresAt: string;
      /** URL jobs only: the main document rendered. A live page is not byte-deterministic. */
      document?: {
        /** The page's final URL, after redirects. */
        url: string;
        /** Of the page's main document as it was served. */
        sha256: string;
      };
    };
    /** Present once the record's job has failed. */
    error?: {
      /** Stable failure code, e.g. `template_error`; docs/operations.md lists them. */
      code: string;
      /** What went wrong, in a sentence. */
      message: string;
    };
  }[];
  /** `start` of the next page; absent on the last. */
  next?: number;
}
