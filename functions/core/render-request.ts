import { z } from "zod";
import { AssetRefsSchema } from "./assets.js";
import { type FieldIssue, ValidationError } from "./errors.js";
import {
  ClockSchema,
  OUTPUT_LIMITS,
  type OutputFormat,
  OutputOptionsSchema,
  ResourceErrorsSchema,
  WaitForSchema,
} from "./output-options.js";
import { TemplateRefSchema } from "./templates.js";

export {
  OUTPUT_FORMATS,
  type OutputFormat,
  type OutputOptions,
  OutputOptionsSchema,
  type PageOptions,
} from "./output-options.js";

/**
 * Limits on one request. Bodies up to `inlineRequestBytes` are kept in the job's DynamoDB item (max
 * 400 KB); larger ones go to the payload store by reference. `requestBytes` stays well under Lambda's
 * 6 MB invocation payload, which also carries the body JSON-escaped inside the API Gateway event.
 */
export const LIMITS = {
  requestBytes: 3 * 1024 * 1024,
  inlineRequestBytes: 128 * 1024,
  htmlBytes: 1024 * 1024,
  callbackUrlChars: 2048,
  maxDimension: OUTPUT_LIMITS.maxDimension,
  maxPixels: OUTPUT_LIMITS.maxPixels,
  maxScale: OUTPUT_LIMITS.maxScale,
} as const;

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  pdf: "application/pdf",
};

export const RenderRequestSchema = z.strictObject({
  /** Inline `{html}`, or a stored template's exact `{id, version}`. */
  template: TemplateRefSchema,
  data: z.record(z.string(), z.unknown()).default({}),
  /** Asset name → key in the tenant's assets; templates use `{{ 'name' | asset_url }}`. */
  assets: AssetRefsSchema.optional(),
  output: OutputOptionsSchema,
  /** Wait for a selector or an expression after load, before capture. */
  waitFor: WaitForSchema.optional(),
  /** Freeze the page's `Date` at this instant. */
  clock: ClockSchema.optional(),
  /** "fail" (default): a font or image that failed to load fails the job; "ignore": render anyway. */
  resourceErrors: ResourceErrorsSchema.optional(),
});

/** The body of POST /v1/renders: the render request and where to report its end. */
export const RenderSubmissionSchema = RenderRequestSchema.extend({
  callbackUrl: z
    .url({ protocol: /^https?$/ })
    .max(LIMITS.callbackUrlChars)
    .optional(),
});

export type RenderRequest = z.output<typeof RenderRequestSchema>;
export type RenderSubmission = z.output<typeof RenderSubmissionSchema>;

/** Turns zod issues into field-named sentences; unknown keys are named one by one. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    const base = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => ({ field: base ? `${base}.${k}` : k, message: "unknown field" }));
    }
    if (issue.code === "invalid_type" && issue.input === undefined) {
      return [{ field: base, message: `required (${issue.expected})` }];
    }
    return [{ field: base, message: issue.message }];
  });
}

/** Parses with `schema` or throws a ValidationError naming each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  return result.data;
}
