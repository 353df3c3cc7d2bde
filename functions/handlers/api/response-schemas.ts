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

const JobStatusSchema = z
  .enum(["queued", "rendering", "succeeded", "failed"])
  .describe("Where the job is: queued, rendering, succeeded or failed (the last two are final).");
const JobIdSchema = z.uuid().describe("The job id Kiln assigned.");
const CreatedAtSchema = z.iso.datetime().describe("When it was created (ISO 8601, UTC).");
const Sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/)
  .describe("SHA-256 of the bytes, in hex.");
const BytesSchema = z.int().min(0).describe("Size in bytes.");
const ContentTypeSchema = z.string().describe("Media type, e.g. `image/png` or `application/pdf`.");

/** A succeeded job's output, with a signed URL minted for the answer. */
const SignedOutputSchema = z.object({
  url: z.url().describe("CloudFront signed URL of the output, minted for this answer."),
  contentType: ContentTypeSchema,
  bytes: BytesSchema,
  sha256: Sha256Schema,
  expiresAt: z.iso.datetime().describe("When `url` stops working; ask again for a fresh one."),
  document: z
    .object({
      url: z.string().describe("The page's final URL, after redirects."),
      sha256: Sha256Schema.describe("Of the page's main document as it was served."),
    })
    .optional()
    .describe("URL jobs only: the main document rendered. A live page is not byte-deterministic."),
});
const JobFailureSchema = z.object({
  code: z.string().describe("Stable failure code, e.g. `template_error`; docs/operations.md lists them."),
  message: z.string().describe("What went wrong, in a sentence."),
});

const ProvenanceSchema = z
  .object({
    inputs: z
      .object({
        template: Sha256Schema.optional().describe(
          "SHA-256 of the template's HTML (a stored version's `sha256`); absent for a URL job.",
        ),
        data: Sha256Schema.describe("SHA-256 of the data as canonical JSON (keys sorted)."),
        assets: z
          .record(z.string(), z.string())
          .describe(
            "Per asset name: SHA-256 of the stored object's version (key, ETag, Last-Modified, type, size); a re-upload is a new version.",
          ),
        options: Sha256Schema.describe(
          "SHA-256 of the output options and the other request fields that shape the page, as canonical JSON.",
        ),
      })
      .describe("Digests of the job's inputs."),
    renderer: z
      .object({
        kiln: z.string().describe("Kiln's version."),
        chromium: z.string().describe("The Chromium build, e.g. 153.0.8010.0."),
        fontPack: Sha256Schema.describe("The font pack's hash: its sources and pinned versions."),
      })
      .describe("What rendered, besides the inputs."),
    cacheKey: Sha256Schema.describe("SHA-256 of inputs and renderer: the job's render-cache key."),
  })
  .describe(
    "What produced the output (once succeeded, as the worker rendered it; before, as known at submission): enough to trace and reproduce it.",
  );

export const JobViewSchema = z.object({
  id: JobIdSchema,
  status: JobStatusSchema,
  createdAt: CreatedAtSchema,
  updatedAt: z.iso.datetime().describe("When its status last changed (ISO 8601, UTC)."),
  attempts: z.int().min(0).describe("Render attempts started so far."),
  correlationId: z
    .string()
    .optional()
    .describe("The submitting request's correlation id, for finding its log lines."),
  output: SignedOutputSchema.optional().describe("Present once the job has succeeded."),
  error: JobFailureSchema.optional().describe(
    "Present once the job has failed: a stable code and a sentence.",
  ),
  cache: z
    .enum(["hit", "miss", "bypass"])
    .optional()
    .describe(
      "hit: served at submission with the output of an earlier job with identical inputs (no render); miss: looked up, not found, rendered; bypass: not looked up (see cacheBypassReason).",
    ),
  cachedFrom: JobIdSchema.optional().describe("A hit: the job whose output this job shares."),
  cacheBypassReason: z
    .string()
    .optional()
    .describe("A bypass: why the job could not be served from the render cache."),
  provenance: ProvenanceSchema.optional(),
  webhook: z
    .object({
      url: z.string().describe("The callbackUrl the event is POSTed to."),
      state: z
        .enum(["waiting", "pending", "retrying", "delivered", "failed"])
        .describe(
          "waiting for the job to end, pending (about to be sent), retrying after a failed attempt, delivered, or failed for good.",
        ),
      attempts: z
        .array(
          z.object({
            attempt: z.int().min(1).describe("1 for the first delivery attempt, then 2, …"),
            at: z.iso.datetime().describe("When the attempt was made."),
            status: z.int().optional().describe("The receiver's HTTP status, when it answered."),
            error: z.string().optional().describe("Why the attempt failed, when it did."),
            durationMs: z.number().min(0).describe("How long the receiver took, in ms."),
          }),
        )
        .readonly()
        .describe("Every delivery attempt so far, oldest first."),
      nextAttemptAt: z.iso.datetime().optional().describe("When it is retried next, while retrying."),
    })
    .optional()
    .describe("Only for jobs submitted with a callbackUrl: the delivery of the completion event."),
});

export const SubmittedJobSchema = z.object({ id: JobIdSchema, status: JobStatusSchema });

const TemplateVersionSchema = z.object({
  id: TemplateIdSchema.describe("The template's id."),
  version: z.int().min(1).describe("The version number: 1, 2, …"),
  createdAt: CreatedAtSchema,
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
  html: z.string().describe("The version's Liquid HTML."),
  schema: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("The JSON Schema the data of every render of this version must satisfy, when it has one."),
});
export const TemplateVersionsSchema = z.object({
  id: TemplateIdSchema.describe("The template's id."),
  latestVersion: z.int().min(1).describe("The highest version number."),
  versions: z.array(TemplateVersionSchema).describe("Oldest first."),
});
export const TemplateListSchema = z.object({
  templates: z.array(TemplateVersionSchema).describe("The latest version of each template, ordered by id."),
});

export const StoredAssetSchema = z.object({
  key: AssetKeySchema,
  bytes: z.int().min(1).describe("Size of the file in bytes."),
  contentType: ContentTypeSchema,
  sha256: Sha256Schema,
});

export const AssetUploadSchema = z.object({
  key: AssetKeySchema,
  url: z.string().describe("Presigned S3 URL; it stores only this key, type and size."),
  method: z.literal("PUT").describe("The HTTP method the URL is signed for."),
  headers: z
    .record(z.string(), z.string())
    .describe("Send exactly these with the PUT (`content-type`, `content-length`, `cache-control`)."),
  expiresAt: z.iso.datetime().describe("The URL is refused after this instant."),
});

export const WebhookSecretSchema = z.object({
  secret: z.string().describe("`whsec_…`: verify webhook signatures with it."),
  scheme: z.literal("standard-webhooks-v1").describe("How deliveries are signed: Standard Webhooks v1."),
  previousSecretExpiresAt: z.iso
    .datetime()
    .optional()
    .describe(
      "Present after a rotation while the replaced secret still signs deliveries (a second `v1,…` signature in `webhook-signature`); absent once only `secret` signs.",
    ),
});

export const ErrorBodySchema = z.object({
  error: z
    .object({
      code: z.string().describe("Stable, machine-readable: `invalid_request`, `not_found`, …"),
      message: z.string().describe("A sentence that says what is wrong and what to do."),
      fields: z
        .array(
          z.object({
            field: z
              .string()
              .describe("Dotted path of the field, e.g. `output.width`; empty for the whole body."),
            message: z.string().describe("What is wrong with it, e.g. `expected a string, got number`."),
          }),
        )
        .optional()
        .describe("With `invalid_request`: each offending field."),
    })
    .describe("Every error answer has this one field."),
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

const BatchStatusSchema = z
  .enum(["queued", "running", "succeeded", "partially_failed", "failed"])
  .describe("queued, running, or once every job has ended: succeeded, partially_failed or failed.");
export const SubmittedBatchSchema = z.object({
  id: z.uuid().describe("The batch id Kiln assigned."),
  status: BatchStatusSchema,
  total: z.int().min(1).describe("Records in the batch: one render job each."),
});
const BatchCountsSchema = z
  .object({
    queued: z.int().min(0).describe("Includes records whose job has not been created yet."),
    rendering: z.int().min(0).describe("Jobs rendering now."),
    succeeded: z.int().min(0).describe("Jobs that succeeded."),
    failed: z.int().min(0).describe("Jobs that failed."),
  })
  .describe("Jobs of the batch by status.");
/** The state of a file a complete batch gets (its zip, its merged PDF). */
function batchArtifactSchema(what: string) {
  return z
    .object({
      state: z
        .enum(["pending", "ready", "failed"])
        .describe("pending while it is made, then ready or failed."),
      url: z.url().optional().describe(`Signed URL of the ${what}, once ready.`),
      expiresAt: z.iso.datetime().optional().describe("When `url` stops working; ask again for a fresh one."),
      bytes: BytesSchema.optional(),
      message: z.string().optional().describe(`Why no ${what} could be made, when it failed.`),
    })
    .optional();
}
export const BatchViewSchema = SubmittedBatchSchema.extend({
  createdAt: CreatedAtSchema,
  counts: BatchCountsSchema,
  manifest: z
    .object({
      url: z.url().describe("Signed URL of the manifest."),
      expiresAt: z.iso.datetime().describe("When `url` stops working; ask again for a fresh one."),
      entries: z.int().min(1).describe("Records in the manifest."),
    })
    .optional()
    .describe(
      "Once complete: signed URL of the manifest (JSON: per record index its job id, status, output key, sha256, bytes and content type, or its error).",
    ),
  zip: batchArtifactSchema("zip").describe(
    "Only for batches submitted with `zip: true`: one zip of every output and the manifest.",
  ),
  mergedPdf: batchArtifactSchema("merged PDF").describe(
    "Only for batches submitted with `mergePdf: true`: one PDF of every succeeded record in record order, a bookmark per record; the manifest's `mergedPdf` lists the records in it and those left out.",
  ),
});
export const BatchOutputsPageSchema = z.object({
  items: z
    .array(
      z.object({
        index: z.int().min(0).describe("The record's position in the batch, from 0."),
        jobId: JobIdSchema,
        status: JobStatusSchema,
        output: SignedOutputSchema.optional().describe("Present once the record's job has succeeded."),
        error: JobFailureSchema.optional().describe("Present once the record's job has failed."),
      }),
    )
    .describe("The page's records, by index."),
  next: z.int().min(1).optional().describe("`start` of the next page; absent on the last."),
});
