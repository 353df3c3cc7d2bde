import { z } from "zod";
import { type FieldIssue, ValidationError } from "./errors.js";

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
  maxDimension: 4096,
  maxPixels: 4096 * 4096,
  maxScale: 4,
} as const;

export const OUTPUT_FORMATS = ["png", "jpeg", "webp", "pdf"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  pdf: "application/pdf",
};

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8");

export const OutputOptionsSchema = z
  .strictObject({
    format: z.enum(OUTPUT_FORMATS),
    width: z.int().min(1).max(LIMITS.maxDimension).default(1200),
    height: z.int().min(1).max(LIMITS.maxDimension).default(800),
    scale: z.number().min(1).max(LIMITS.maxScale).default(1),
    quality: z.int().min(1).max(100).optional(),
  })
  .superRefine((o, ctx) => {
    if (o.quality !== undefined && o.format !== "jpeg" && o.format !== "webp") {
      ctx.addIssue({ code: "custom", path: ["quality"], message: "quality applies only to jpeg and webp" });
    }
    if (o.width * o.height * o.scale * o.scale > LIMITS.maxPixels) {
      ctx.addIssue({
        code: "custom",
        path: ["width"],
        message: `width × height × scale² must not exceed ${LIMITS.maxPixels} pixels`,
      });
    }
  });

export const RenderRequestSchema = z.strictObject({
  template: z.strictObject({
    html: z
      .string()
      .min(1)
      .refine((h) => utf8Bytes(h) <= LIMITS.htmlBytes, `must be at most ${LIMITS.htmlBytes} bytes`),
  }),
  data: z.record(z.string(), z.unknown()).default({}),
  output: OutputOptionsSchema,
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
export type OutputOptions = z.output<typeof OutputOptionsSchema>;

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
