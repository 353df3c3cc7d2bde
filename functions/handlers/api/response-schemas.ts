import { z } from "zod";
import { AssetKeySchema } from "../../core/assets.js";
import type { JobView } from "../../core/job-view.js";
import { PdfMetadataSchema } from "../../core/pdf-metadata.js";
import { TemplateIdSchema, type templateVersionView } from "../../core/templates.js";

/**
 * What the API answers with, as zod schemas: the operation table names them as response bodies, and
 * the OpenAPI document and docs/api.md describe them. They only describe; the api function builds
 * its answers from the core types, which the compile-time checks below hold these schemas to.
 */

const JobStatusSchema = z.enum(["queued", "rendering", "succeeded", "failed"]);
const JobIdSchema = z.uuid().describe("The job id Kiln assigned.");

export const JobViewSchema = z.object({
  id: JobIdSchema,
  status: JobStatusSchema,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  attempts: z.int().min(0).describe("Render attempts started so far."),
  correlationId: z
    .string()
    .optional()
    .describe("The submitting request's correlation id, for finding its log lines."),
  output: z
    .object({
      url: z.url().describe("CloudFront signed URL of the output, minted for this answer."),
      contentType: z.string(),
      bytes: z.int().min(0),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      expiresAt: z.iso.datetime().describe("When `url` stops working; ask again for a fresh one."),
    })
    .optional()
    .describe("Present once the job has succeeded."),
  error: z
    .object({ code: z.string(), message: z.string() })
    .optional()
    .describe("Present once the job has failed: a stable code and a sentence."),
  webhook: z
    .object({
      url: z.string(),
      state: z.enum(["waiting", "pending", "retrying", "delivered", "failed"]),
      attempts: z
        .array(
          z.object({
            attempt: z.int().min(1),
            at: z.iso.datetime(),
            status: z.int().optional().describe("The receiver's HTTP status, when it answered."),
            error: z.string().optional().describe("Why the attempt failed, when it did."),
            durationMs: z.number().min(0),
          }),
        )
        .readonly(),
      nextAttemptAt: z.iso.datetime().optional(),
    })
    .optional()
    .describe("Only for jobs submitted with a callbackUrl: the delivery of the completion event."),
});

export const SubmittedJobSchema = z.object({ id: JobIdSchema, status: JobStatusSchema });

const TemplateVersionSchema = z.object({
  id: TemplateIdSchema,
  version: z.int().min(1),
  createdAt: z.iso.datetime(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("SHA-256 of the HTML."),
  bytes: z.int().min(0).describe("Size of the HTML in bytes."),
  hasSchema: z
    .boolean()
    .describe("Whether the data of every render of this version is checked by a JSON Schema."),
  javascript: z.boolean().describe("Whether renders of this version run the template's own JavaScript."),
  pdfMetadata: PdfMetadataSchema.optional().describe("PDF metadata of the PDFs rendered from this version."),
});
export const CreatedTemplateVersionSchema = TemplateVersionSchema.extend({
  created: z
    .boolean()
    .describe("false when the upload equals the latest version, which is answered instead."),
});
export const TemplateVersionSourceSchema = TemplateVersionSchema.extend({
  html: z.string(),
  schema: z.record(z.string(), z.unknown()).optional(),
});
export const TemplateVersionsSchema = z.object({
  id: TemplateIdSchema,
  latestVersion: z.int().min(1),
  versions: z.array(TemplateVersionSchema).describe("Oldest first."),
});
export const TemplateListSchema = z.object({
  templates: z.array(TemplateVersionSchema).describe("The latest version of each template, ordered by id."),
});

export const StoredAssetSchema = z.object({
  key: AssetKeySchema,
  bytes: z.int().min(1),
  contentType: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const WebhookSecretSchema = z.object({
  secret: z.string().describe("`whsec_…`: verify webhook signatures with it."),
  scheme: z.literal("standard-webhooks-v1"),
  previousSecretExpiresAt: z.iso
    .datetime()
    .optional()
    .describe(
      "Present after a rotation while the replaced secret still signs deliveries (a second `v1,…` signature in `webhook-signature`); absent once only `secret` signs.",
    ),
});

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string().describe("Stable, machine-readable: `invalid_request`, `not_found`, …"),
    message: z.string().describe("A sentence that says what is wrong and what to do."),
    fields: z
      .array(
        z.object({
          field: z
            .string()
            .describe("Dotted path of the field, e.g. `output.width`; empty for the whole body."),
          message: z.string(),
        }),
      )
      .optional()
      .describe("With `invalid_request`: each offending field."),
  }),
});

// Compile-time checks: each response schema describes what the handler actually sends.
// Mutual assignability misses an optional property on one side only, so the keys are compared too.
type KeysMatch<A, B> = A extends readonly (infer EA)[]
  ? B extends readonly (infer EB)[]
    ? KeysMatch<EA, EB>
    : false
  : A extends object
    ? [keyof A] extends [keyof B]
      ? [keyof B] extends [keyof A]
        ? { [K in keyof A & keyof B]: KeysMatch<NonNullable<A[K]>, NonNullable<B[K]>> }[keyof A &
            keyof B] extends true
          ? true
          : false
        : false
      : false
    : true;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? KeysMatch<A, B> : false) : false;
const responsesMatchCoreTypes: [
  Same<z.output<typeof JobViewSchema>, JobView>,
  Same<
    z.output<typeof TemplateVersionSourceSchema>,
    ReturnType<typeof templateVersionView> & { html: string }
  >,
  Same<
    z.output<typeof TemplateVersionSchema>,
    Omit<ReturnType<typeof templateVersionView>, "html" | "schema">
  >,
] = [true, true, true];
void responsesMatchCoreTypes;

const BatchStatusSchema = z.enum(["queued", "running", "succeeded", "partially_failed", "failed"]);
export const SubmittedBatchSchema = z.object({
  id: z.uuid().describe("The batch id Kiln assigned."),
  status: BatchStatusSchema,
  total: z.int().min(1).describe("Records in the batch: one render job each."),
});
const BatchCountsSchema = z
  .object({
    queued: z.int().min(0).describe("Includes records whose job has not been created yet."),
    rendering: z.int().min(0),
    succeeded: z.int().min(0),
    failed: z.int().min(0),
  })
  .describe("Jobs of the batch by status.");
export const BatchViewSchema = SubmittedBatchSchema.extend({
  createdAt: z.iso.datetime(),
  counts: BatchCountsSchema,
  manifest: z
    .object({ url: z.url(), expiresAt: z.iso.datetime(), entries: z.int().min(1) })
    .optional()
    .describe(
      "Once complete: signed URL of the manifest (JSON: per record index its job id, status, output key, sha256, bytes and content type, or its error).",
    ),
  zip: z
    .object({
      state: z.enum(["pending", "ready", "failed"]),
      url: z.url().optional(),
      expiresAt: z.iso.datetime().optional(),
      bytes: z.int().min(0).optional(),
      message: z.string().optional(),
    })
    .optional()
    .describe("Only for batches submitted with `zip: true`: one zip of every output and the manifest."),
});
export const BatchOutputsPageSchema = z.object({
  items: z.array(
    z.object({
      index: z.int().min(0),
      jobId: z.uuid(),
      status: JobStatusSchema,
      output: z
        .object({
          url: z.url(),
          expiresAt: z.iso.datetime(),
          contentType: z.string(),
          bytes: z.int().min(0),
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
        })
        .optional(),
      error: z.object({ code: z.string(), message: z.string() }).optional(),
    }),
  ),
  next: z.int().min(1).optional().describe("`start` of the next page; absent on the last."),
});
