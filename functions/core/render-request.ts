import { z } from "zod";
import { ASSETS, AssetRefsSchema } from "./assets.js";
import { type FieldIssue, ValidationError } from "./errors.js";
import {
  ClockSchema,
  EmulateMediaSchema,
  OUTPUT_LIMITS,
  type OutputFormat,
  OutputOptionsSchema,
  ResourceErrorsSchema,
  WaitForSchema,
} from "./output-options.js";
import { PDF_FINISHING_LIMITS } from "./pdf-finishing.js";
import { implies, jsonSchemaRules, present } from "./schema-rules.js";
import { TemplateRefSchema } from "./templates.js";
import { URL_SOURCE_LIMITS, UrlSourceSchema } from "./url-source.js";

export {
  OUTPUT_FORMATS,
  type OutputFormat,
  type OutputOptions,
  OutputOptionsSchema,
  type PageOptions,
} from "./output-options.js";

/**
 * Limits on one request: the one table the API enforces and docs/security.md quotes. Everything that
 * can be checked at submission answers 400 naming the field (413 for the whole body) before anything
 * is queued; `maxPdfPages` and the pixels of a full-page capture depend on the content and fail the
 * job with `output_too_large`.
 *
 * Bodies up to `inlineRequestBytes` are kept in the jobs table, in an item of their own beside the
 * job's (max 400 KB); larger ones go to the payload store by reference. `requestBytes` stays well under Lambda's 6 MB invocation
 * payload, which also carries the body JSON-escaped inside the API Gateway event.
 */
export const LIMITS = {
  requestBytes: 3 * 1024 * 1024,
  inlineRequestBytes: 128 * 1024,
  htmlBytes: 1024 * 1024,
  /** `data` serialized as JSON. */
  dataBytes: 2 * 1024 * 1024,
  /** Nesting of arrays and objects in any JSON body; DynamoDB's own item limit is 32 levels too. */
  jsonDepth: 32,
  assetsPerRender: ASSETS.maxPerJob,
  assetBytes: ASSETS.maxBytes,
  assetUploadBytes: ASSETS.maxUploadBytes,
  callbackUrlChars: 2048,
  sourceUrlChars: URL_SOURCE_LIMITS.urlChars,
  /** A URL job's headers and cookies together, as JSON: what one KMS Encrypt takes. */
  pageSecretBytes: URL_SOURCE_LIMITS.secretBytes,
  maxDimension: OUTPUT_LIMITS.maxDimension,
  maxPixels: OUTPUT_LIMITS.maxPixels,
  maxScale: OUTPUT_LIMITS.maxScale,
  maxPdfPages: OUTPUT_LIMITS.maxPdfPages,
  headerFooterBytes: OUTPUT_LIMITS.headerFooterBytes,
  waitTimeoutMs: OUTPUT_LIMITS.maxWaitMs,
  renderTimeoutMs: OUTPUT_LIMITS.renderTimeoutMs,
  minRenderTimeoutMs: OUTPUT_LIMITS.minRenderTimeoutMs,
  partsPerJob: PDF_FINISHING_LIMITS.partsPerJob,
  stampsPerJob: PDF_FINISHING_LIMITS.stampsPerJob,
  attachmentsPerJob: PDF_FINISHING_LIMITS.attachmentsPerJob,
  /** One inline `output.pdf.attachments[].content`, decoded; larger files go in as assets. */
  attachmentBytes: PDF_FINISHING_LIMITS.inlineAttachmentBytes,
} as const;

/**
 * The path to the first place in `value` nested deeper than `maxDepth` arrays and objects, or
 * undefined. Iterative, so a hostile body cannot exhaust the stack while being checked.
 */
export function tooDeepAt(value: unknown, maxDepth: number = LIMITS.jsonDepth): string[] | undefined {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value, path: [] }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    if (typeof next.value !== "object" || next.value === null) continue;
    if (next.path.length >= maxDepth) return next.path;
    for (const [key, child] of Object.entries(next.value)) {
      if (typeof child === "object" && child !== null)
        stack.push({ value: child, path: [...next.path, key] });
    }
  }
  return undefined;
}

const DataSchema = z.record(z.string(), z.unknown()).superRefine((data, ctx) => {
  // Checked before serializing: JSON.stringify recurses.
  const deep = tooDeepAt(data, LIMITS.jsonDepth - 1);
  if (deep !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: deep,
      message: `is nested too deeply: JSON may nest at most ${LIMITS.jsonDepth} levels`,
    });
    return;
  }
  const bytes = Buffer.byteLength(JSON.stringify(data), "utf8");
  if (bytes > LIMITS.dataBytes) {
    ctx.addIssue({
      code: "custom",
      message: `is ${bytes} bytes as JSON; at most ${LIMITS.dataBytes} bytes (2 MiB) are allowed`,
    });
  }
});

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  pdf: "application/pdf",
};

export const RenderRequestSchema = z.strictObject({
  /** Inline `{html}`, or a stored template's exact `{id, version}`; or instead a `source`. */
  template: TemplateRefSchema.optional().describe(
    "Inline `{html}`, or a stored template's exact `{id, version}`. Give a template or a source, not both.",
  ),
  /** A live page to render instead of a template (url-source.ts). */
  source: UrlSourceSchema.optional().describe(
    "Instead of a template: a live page `{url, headers?, cookies?}` to render. It cannot be byte-deterministic: the job records the final URL and sha256 of the document it rendered.",
  ),
  data: DataSchema.default({}).describe("Values for the template, as JSON (at most 2 MiB)."),
  /** Asset name → key in the tenant's assets; templates use `{{ 'name' | asset_url }}`. */
  assets: AssetRefsSchema.optional().describe(
    "Asset name → key in the tenant's assets; templates use `{{ 'name' | asset_url }}` (at most 50).",
  ),
  output: OutputOptionsSchema.describe("What to produce: format, size and capture."),
  /** Wait for a selector or an expression after load, before capture. */
  waitFor: WaitForSchema.optional().describe(
    "Wait for a selector or an expression after load, before capture: give exactly one of them.",
  ),
  /** The CSS media type the page is rendered for; default: "print" for PDFs, "screen" for images. */
  emulateMedia: EmulateMediaSchema.optional().describe(
    'The CSS media type to render for: "screen" or "print" (default: Chromium\'s, print for PDFs and screen for images).',
  ),
  /** Freeze the page's `Date` at this instant. */
  clock: ClockSchema.optional().describe("Freeze the page's `Date` at this ISO-8601 instant."),
  /** "fail" (default): a font or image that failed to load fails the job; "ignore": render anyway. */
  resourceErrors: ResourceErrorsSchema.optional().describe(
    '"fail" (default): a font or image that failed to load fails the job; "ignore": render anyway.',
  ),
  /** This job's render budget in ms: at most the worker's, which is also the default. */
  timeoutMs: z
    .int()
    .min(LIMITS.minRenderTimeoutMs, `must be at least ${LIMITS.minRenderTimeoutMs} ms`)
    .max(
      LIMITS.renderTimeoutMs,
      `must be at most ${LIMITS.renderTimeoutMs} ms, the worker's render budget: a job may lower it, not raise it`,
    )
    .optional()
    .describe(
      `This job's render budget in ms, ${LIMITS.minRenderTimeoutMs}–${LIMITS.renderTimeoutMs}; default and maximum: the worker's.`,
    ),
  /**
   * Run the template's own scripts. Off by default: a template is a document, and without scripts it
   * cannot compute where to send requests. A stored template version may allow it too.
   */
  javascript: z
    .boolean()
    .optional()
    .describe(
      "Run the template's own JavaScript (default false, unless the stored template version allows it). Egress rules hold either way.",
    ),
  /**
   * "fail" (default): a request the egress rules block fails the job with `egress_blocked`, naming the
   * URL; "ignore": the blocked resource is left out and the render goes on. Navigating the page away
   * fails the job either way.
   */
  blockedRequests: z
    .enum(["fail", "ignore"])
    .optional()
    .describe(
      '"fail" (default): a request the egress rules block fails the job (`egress_blocked`); "ignore": render without the blocked resource. Navigating away always fails.',
    ),
  /**
   * false: render anew even when an earlier job of the tenant had exactly these inputs, and keep the
   * output out of the render cache (render-cache.ts).
   */
  cache: z
    .boolean()
    .optional()
    .describe(
      "false: render anew even if an earlier job had identical inputs, and do not offer this output to later jobs (default true).",
    ),
});

/**
 * A job's `waitFor.expression` is script run in the page, and with scripts off nothing would ever make
 * it true: it needs `"javascript": true`. A refinement of its own, so that the request schema stays
 * a plain object others can pick from.
 */
export function requireJavaScriptForExpression(
  request: {
    readonly waitFor?: { readonly expression?: string | undefined } | undefined;
    readonly javascript?: boolean | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (request.waitFor?.expression !== undefined && request.javascript !== true) {
    ctx.addIssue({
      code: "custom",
      path: ["waitFor", "expression"],
      message: 'is JavaScript: send "javascript": true with it, or wait for a selector instead',
    });
  }
}

/** `requireJavaScriptForExpression` for JSON Schema readers. */
export const EXPRESSION_NEEDS_JAVASCRIPT = implies(
  { required: ["waitFor"], properties: { waitFor: present("expression") } },
  present("javascript", true),
);

/** Where a signed webhook is POSTed when a job ends. */
export const CallbackUrlSchema = z
  .url({ protocol: /^https?$/ })
  .max(LIMITS.callbackUrlChars)
  .register(jsonSchemaRules, { pattern: "^[Hh][Tt][Tt][Pp][Ss]?://" });

/**
 * A job renders a template or a live page, never both; data and assets belong to templates. A
 * refinement of its own, like `requireJavaScriptForExpression`.
 */
export function requireOneSource(
  request: {
    readonly template?: unknown;
    readonly source?: unknown;
    readonly data?: Readonly<Record<string, unknown>> | undefined;
    readonly assets?: unknown;
  },
  ctx: z.RefinementCtx,
): void {
  if ((request.template === undefined) === (request.source === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: request.template === undefined ? ["template"] : ["source"],
      message:
        request.template === undefined
          ? "required (object): a template {html} or {id, version}, or a live page as source {url}"
          : "give a template or a source, not both",
    });
  }
  if (request.source === undefined) return;
  if (request.data !== undefined && Object.keys(request.data).length > 0) {
    ctx.addIssue({ code: "custom", path: ["data"], message: "applies to templates only, not to a source" });
  }
  if (request.assets !== undefined) {
    ctx.addIssue({ code: "custom", path: ["assets"], message: "applies to templates only, not to a source" });
  }
}

/** `requireOneSource` for JSON Schema readers: a source takes no data (beyond `{}`) and no assets. */
const ONE_SOURCE = {
  oneOf: [
    { required: ["template"], not: present("source") },
    {
      required: ["source"],
      not: { anyOf: [present("template"), present("assets")] },
      properties: { data: { maxProperties: 0 } },
    },
  ],
};

/** The body of POST /v1/renders: the render request and where to report its end. */
export const RenderSubmissionSchema = RenderRequestSchema.extend({
  callbackUrl: CallbackUrlSchema.optional().describe(
    "A signed webhook is POSTed here when the job ends (https, public host).",
  ),
})
  .superRefine((request, ctx) => {
    requireJavaScriptForExpression(request, ctx);
    requireOneSource(request, ctx);
  })
  .register(jsonSchemaRules, { allOf: [EXPRESSION_NEEDS_JAVASCRIPT, ONE_SOURCE] });

export type RenderRequest = z.output<typeof RenderRequestSchema>;
export type RenderSubmission = z.output<typeof RenderSubmissionSchema>;

/** Turns zod issues into field-named sentences; unknown keys are named one by one. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    const base = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => ({ field: base ? `${base}.${k}` : k, message: "unknown field" }));
    }
    const expected = expectedTypes(issue);
    if (expected && !hasCustomMessage(issue)) {
      const wanted = expected.map((t) => withArticle(TYPE_NAMES[t] ?? t)).join(" or ");
      return [
        {
          field: base,
          message:
            issue.input === undefined
              ? `required (${expected.join(" or ")})`
              : `expected ${wanted}, got ${jsonTypeOf(issue.input)}`,
        },
      ];
    }
    return [{ field: base, message: issue.message }];
  });
}

/**
 * The types an issue expected when the value had none of them: one for `invalid_type`, each
 * alternative's for a union no alternative of which took the value's type.
 */
function expectedTypes(issue: z.core.$ZodIssue): string[] | undefined {
  if (issue.code === "invalid_type") return [issue.expected];
  if (issue.code !== "invalid_union") return undefined;
  const alternatives = issue.errors.map((issues) =>
    issues.length === 1 && issues[0]?.code === "invalid_type" && issues[0].path.length === 0
      ? issues[0].expected
      : undefined,
  );
  return alternatives.every((t) => t !== undefined) && alternatives.length > 0
    ? [...new Set(alternatives)]
    : undefined;
}

/** zod's names of expected types in the words of JSON. */
const TYPE_NAMES: Readonly<Record<string, string>> = { int: "integer", record: "object", map: "object" };

const withArticle = (noun: string) => `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;

/** The JSON type of a value as a client would name it. */
function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

/** A schema may word its own type error (`z.int({ error })`); zod's default starts "Invalid input". */
const hasCustomMessage = (issue: z.core.$ZodIssue) => !issue.message.startsWith("Invalid input");

/**
 * Parses with `schema` or throws a ValidationError naming each bad field. Issues carry the input
 * (`reportInput`) so that a wrong type can be told from a missing one; the input itself is never echoed.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  return result.data;
}
