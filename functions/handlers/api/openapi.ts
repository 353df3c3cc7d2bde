import { z } from "zod";
import { ASSET_CONTENT_TYPES, AssetKeySchema } from "../../core/assets.js";
import { BATCHES, BatchSubmissionSchema } from "../../core/batches.js";
import type { JobView } from "../../core/job-view.js";
import { LIMITS, RenderSubmissionSchema } from "../../core/render-request.js";
import { CreateTemplateSchema, TemplateIdSchema, type templateVersionView } from "../../core/templates.js";
import { TenantSettingsSchema } from "../../core/tenant-settings.js";

/**
 * Kiln's HTTP API as data: one entry per operation, from which the OpenAPI 3.1 document
 * (`GET /openapi.json`) and docs/api.md are generated. Request bodies are the same zod schemas the
 * api function validates with; responses are described by zod schemas checked against the core types
 * below. Tests compare this table with the routes the api handler answers and those API Gateway has.
 *
 * Adding a route is one entry in API_OPERATIONS: method, path, summary, body schema, responses;
 * authentication, 401/429/500 and, for JSON bodies, 400/413/415 are added by the generator.
 */

/** A schema that becomes `#/components/schemas/<name>`. */
export interface NamedSchema {
  readonly name: string;
  readonly schema: z.ZodType;
  /** `input` for request bodies (before defaults and transforms), `output` for responses. */
  readonly io: "input" | "output";
}

export interface ApiResponse {
  readonly description: string;
  readonly body?: NamedSchema;
  /** Response header name → what it carries. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 415 | 429 | 500 | 503;

export interface ApiOperation {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** OpenAPI path template: `/v1/renders/{id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  /** Answers without an API key. */
  readonly public?: boolean;
  /** Path parameter name → its description and schema. */
  readonly pathParams?: Readonly<
    Record<string, { readonly description: string; readonly schema: z.ZodType }>
  >;
  /** Request header name → its description and schema. */
  readonly headerParams?: Readonly<
    Record<string, { readonly description: string; readonly schema: z.ZodType; readonly required?: boolean }>
  >;
  readonly body?:
    | { readonly json: NamedSchema; readonly description: string }
    | { readonly binary: readonly string[]; readonly description: string };
  /** Success answers by status. */
  readonly responses: Readonly<Record<number, ApiResponse>>;
  /** Errors particular to this operation; 401, 429 and 500 (and 400/413/415 for JSON bodies) are implied. */
  readonly errors?: readonly ErrorStatus[];
}

// Responses. Each is checked against the type the api function answers with, so they cannot drift.
const JobStatusSchema = z.enum(["queued", "rendering", "succeeded", "failed"]);
const JobIdSchema = z.uuid().describe("The job id Kiln assigned.");

const JobViewSchema = z.object({
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

const SubmittedJobSchema = z.object({ id: JobIdSchema, status: JobStatusSchema });

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
});
const CreatedTemplateVersionSchema = TemplateVersionSchema.extend({
  created: z
    .boolean()
    .describe("false when the upload equals the latest version, which is answered instead."),
});
const TemplateVersionSourceSchema = TemplateVersionSchema.extend({
  html: z.string(),
  schema: z.record(z.string(), z.unknown()).optional(),
});
const TemplateVersionsSchema = z.object({
  id: TemplateIdSchema,
  latestVersion: z.int().min(1),
  versions: z.array(TemplateVersionSchema).describe("Oldest first."),
});
const TemplateListSchema = z.object({
  templates: z.array(TemplateVersionSchema).describe("The latest version of each template, ordered by id."),
});

const StoredAssetSchema = z.object({
  key: AssetKeySchema,
  bytes: z.int().min(1),
  contentType: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const WebhookSecretSchema = z.object({
  secret: z.string().describe("`whsec_…`: verify webhook signatures with it."),
  scheme: z.literal("standard-webhooks-v1"),
});

const ErrorBodySchema = z.object({
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

const named = (name: string, schema: z.ZodType, io: "input" | "output" = "output"): NamedSchema => ({
  name,
  schema,
  io,
});

const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x20-\x7e]+$/);

const TEMPLATE_ID = { description: "The template's id.", schema: TemplateIdSchema };

const BatchStatusSchema = z.enum(["queued", "running", "succeeded", "partially_failed", "failed"]);
const SubmittedBatchSchema = z.object({
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
const BatchViewSchema = SubmittedBatchSchema.extend({
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
const BatchOutputsPageSchema = z.object({
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
const BATCH_ID = { description: "The batch id.", schema: z.string() };
const LOCATION = "Path of the created resource.";

/** Every operation of the API. */
export const API_OPERATIONS: readonly ApiOperation[] = [
  {
    method: "POST",
    path: "/v1/renders",
    operationId: "submitRender",
    tag: "Renders",
    summary: "Submit a render job",
    description:
      "Validates the request (a stored template must exist and its data schema must be satisfied), " +
      `stores the job and queues it. Bodies over ${LIMITS.inlineRequestBytes / 1024} KiB are kept in S3 by reference.`,
    headerParams: {
      "Idempotency-Key": {
        description:
          "Makes the POST safe to retry: the same key with the same body answers the same job (200) for 24 hours; " +
          "with a different body, 409. Keys are per tenant.",
        schema: IdempotencyKeySchema,
      },
    },
    body: { json: named("RenderRequest", RenderSubmissionSchema, "input"), description: "What to render." },
    responses: {
      202: {
        description: "Queued.",
        body: named("SubmittedJob", SubmittedJobSchema),
        headers: { Location: LOCATION },
      },
      200: {
        description: "The job an earlier request with this Idempotency-Key created.",
        body: named("SubmittedJob", SubmittedJobSchema),
        headers: { Location: LOCATION, "Idempotent-Replayed": "`true`." },
      },
    },
    errors: [409, 503],
  },
  {
    method: "GET",
    path: "/v1/renders/{id}",
    operationId: "getRender",
    tag: "Renders",
    summary: "Get a render job",
    description:
      "The job's status; once it has succeeded, a short-lived CloudFront signed URL of its output minted for this answer.",
    pathParams: { id: { description: "The job id.", schema: z.string() } },
    responses: { 200: { description: "The job.", body: named("Job", JobViewSchema) } },
    errors: [404],
  },
  {
    method: "POST",
    path: "/v1/templates",
    operationId: "createTemplate",
    tag: "Templates",
    summary: "Store a new template version",
    description:
      "Stores the HTML (and its data schema) as the next version of the template. Uploading exactly the " +
      "latest version's content again creates nothing and answers that version, so an upload can be repeated.",
    body: {
      json: named("CreateTemplate", CreateTemplateSchema, "input"),
      description: "The template's id, HTML and optional data schema.",
    },
    responses: {
      201: {
        description: "A new version.",
        body: named("CreatedTemplateVersion", CreatedTemplateVersionSchema),
        headers: { Location: LOCATION },
      },
      200: {
        description: "Unchanged: the latest version already has this content.",
        body: named("CreatedTemplateVersion", CreatedTemplateVersionSchema),
        headers: { Location: LOCATION },
      },
    },
    errors: [404],
  },
  {
    method: "GET",
    path: "/v1/templates",
    operationId: "listTemplates",
    tag: "Templates",
    summary: "List templates",
    responses: {
      200: {
        description: "Each template with its latest version.",
        body: named("TemplateList", TemplateListSchema),
      },
    },
    errors: [404],
  },
  {
    method: "GET",
    path: "/v1/templates/{id}",
    operationId: "getTemplate",
    tag: "Templates",
    summary: "List a template's versions",
    pathParams: { id: TEMPLATE_ID },
    responses: {
      200: {
        description: "The versions, oldest first.",
        body: named("TemplateVersions", TemplateVersionsSchema),
      },
    },
    errors: [404],
  },
  {
    method: "GET",
    path: "/v1/templates/{id}/versions/{version}",
    operationId: "getTemplateVersion",
    tag: "Templates",
    summary: "Get one template version with its HTML and schema",
    pathParams: {
      id: TEMPLATE_ID,
      version: { description: "The version number (1, 2, …).", schema: z.int().min(1) },
    },
    responses: {
      200: {
        description: "The version, its HTML and its data schema.",
        body: named("TemplateVersionSource", TemplateVersionSourceSchema),
      },
    },
    errors: [404],
  },
  {
    method: "PUT",
    path: "/v1/assets/{key}",
    operationId: "putAsset",
    tag: "Assets",
    summary: "Upload an asset",
    description:
      "Stores a file templates reference by name (`assets` in a render request). The key may contain `/`; " +
      "percent-encode each segment. Send the file's Content-Type, or `application/octet-stream` with a key " +
      "that has the file's extension.",
    pathParams: {
      key: { description: "Where the asset is kept, e.g. `brand/logo.png`.", schema: AssetKeySchema },
    },
    body: {
      binary: [...new Set(Object.values(ASSET_CONTENT_TYPES)), "application/octet-stream"],
      description: "The file, at most 4 MiB.",
    },
    responses: { 201: { description: "Stored.", body: named("StoredAsset", StoredAssetSchema) } },
    errors: [400, 404, 413, 415],
  },
  {
    method: "GET",
    path: "/v1/webhooks/secret",
    operationId: "getWebhookSecret",
    tag: "Webhooks",
    summary: "Get the webhook signing secret",
    description: "The tenant's secret for verifying Standard Webhooks signatures; created on first use.",
    responses: { 200: { description: "The secret.", body: named("WebhookSecret", WebhookSecretSchema) } },
  },
  {
    method: "GET",
    path: "/v1/settings",
    operationId: "getSettings",
    tag: "Settings",
    summary: "Get the tenant's settings",
    description:
      "The settings in force: `egress.allowHosts`, the hosts templates may load from over https besides Kiln's own assets. Defaults when none were stored.",
    responses: { 200: { description: "The settings.", body: named("TenantSettings", TenantSettingsSchema) } },
  },
  {
    method: "PUT",
    path: "/v1/settings",
    operationId: "putSettings",
    tag: "Settings",
    summary: "Replace the tenant's settings",
    description:
      "Replaces the settings whole. `egress.allowHosts` takes host names (`cdn.example.com`) or wildcards (`*.example.com`); no schemes, paths, ports or IP addresses. Jobs read the settings when they render.",
    body: { json: named("TenantSettingsInput", TenantSettingsSchema, "input"), description: "The settings." },
    responses: {
      200: {
        description: "The settings as stored (normalised).",
        body: named("TenantSettings", TenantSettingsSchema),
      },
    },
  },
  {
    method: "POST",
    path: "/v1/batches",
    operationId: "submitBatch",
    tag: "Batches",
    summary: "Submit a batch: one render per data record",
    description:
      `One template and one set of output options, rendered once per record: up to ${BATCHES.maxInlineRecords} records inline, ` +
      `or up to ${BATCHES.maxRecords} as a JSONL asset named by \`recordsKey\`. Every record is validated first ` +
      "(a stored template's JSON Schema included); a 400 names each bad record by index, e.g. `records.17.total`.",
    headerParams: {
      "Idempotency-Key": {
        description: "As for POST /v1/renders: the same key with the same body answers the same batch (200).",
        schema: IdempotencyKeySchema,
      },
    },
    body: { json: named("BatchRequest", BatchSubmissionSchema, "input"), description: "What to render." },
    responses: {
      202: {
        description: "Queued.",
        body: named("SubmittedBatch", SubmittedBatchSchema),
        headers: { Location: LOCATION },
      },
      200: {
        description: "The batch an earlier request with this Idempotency-Key created.",
        body: named("SubmittedBatch", SubmittedBatchSchema),
        headers: { Location: LOCATION, "Idempotent-Replayed": "`true`." },
      },
    },
    errors: [404, 409, 503],
  },
  {
    method: "GET",
    path: "/v1/batches/{id}",
    operationId: "getBatch",
    tag: "Batches",
    summary: "Get a batch",
    description:
      "Counts per job status and the overall status; once complete, signed URLs of the manifest (and the zip).",
    pathParams: { id: BATCH_ID },
    responses: { 200: { description: "The batch.", body: named("Batch", BatchViewSchema) } },
    errors: [404],
  },
  {
    method: "GET",
    path: "/v1/batches/{id}/outputs",
    operationId: "getBatchOutputs",
    tag: "Batches",
    summary: "A page of a batch's outputs with signed URLs",
    description: `Up to ${BATCHES.outputsPageSize} records from index \`start\` (query parameter, default 0), each with a signed URL of its output.`,
    pathParams: { id: BATCH_ID },
    responses: {
      200: { description: "The page.", body: named("BatchOutputsPage", BatchOutputsPageSchema) },
    },
    errors: [400, 404],
  },
  {
    method: "GET",
    path: "/openapi.json",
    operationId: "getOpenApi",
    tag: "Meta",
    summary: "This OpenAPI document",
    public: true,
    responses: { 200: { description: "The OpenAPI 3.1 document of this API." } },
  },
];

const ERRORS: Readonly<Record<ErrorStatus, { name: string; description: string; retryAfter?: true }>> = {
  400: { name: "BadRequest", description: "`invalid_request`: `fields` names each field that is wrong." },
  401: { name: "Unauthorized", description: "`unauthorized`: missing or invalid API key." },
  404: { name: "NotFound", description: "`not_found`: no such resource for this tenant." },
  409: {
    name: "Conflict",
    description: "`idempotency_key_reused`: the Idempotency-Key was used with a different body.",
  },
  413: { name: "PayloadTooLarge", description: "`payload_too_large`: the body is over the limit." },
  415: { name: "UnsupportedMediaType", description: "`unsupported_media_type`: wrong Content-Type." },
  429: {
    name: "TooManyRequests",
    description:
      "`throttled`, `quota_exceeded` or `rate_limited`: slow down, and retry after Retry-After when given.",
    retryAfter: true,
  },
  500: {
    name: "InternalError",
    description: "`internal_error`: quote the request id in the message when reporting it.",
  },
  503: {
    name: "Unavailable",
    description: "`unavailable`: nothing was created; retry (with the same Idempotency-Key if you sent one).",
    retryAfter: true,
  },
};

/** Error statuses an operation can answer, in ascending order. */
function errorStatuses(op: ApiOperation): ErrorStatus[] {
  const implied: ErrorStatus[] = op.public ? [500] : [401, 429, 500];
  if (op.body && "json" in op.body) implied.push(400, 413, 415);
  return [...new Set([...implied, ...(op.errors ?? [])])].sort((a, b) => a - b);
}

export type JsonSchema = Record<string, unknown>;

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) of a zod schema; refinements and transforms have none. */
function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    reused: "inline",
    unrepresentable: "any",
  }) as JsonSchema;
  return json;
}

export interface OpenApiOptions {
  /** The URL the API is served from, e.g. `/live` behind API Gateway's stage. @default "/" */
  readonly serverUrl?: string;
}

let cached: JsonSchema | undefined;

/** The OpenAPI 3.1 document of the API. */
export function openApiDocument(options: OpenApiOptions = {}): JsonSchema {
  cached ??= buildDocument();
  return { ...cached, servers: [{ url: options.serverUrl ?? "/" }] };
}

function buildDocument(): JsonSchema {
  const schemas: Record<string, JsonSchema> = {};
  const seen = new Map<string, z.ZodType>();
  const ref = (s: NamedSchema) => {
    const earlier = seen.get(s.name);
    if (earlier && earlier !== s.schema) throw new Error(`Two schemas are named ${s.name}.`);
    seen.set(s.name, s.schema);
    schemas[s.name] ??= jsonSchemaOf(s.schema, s.io);
    return { $ref: `#/components/schemas/${s.name}` };
  };
  ref(named("Error", ErrorBodySchema));

  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of API_OPERATIONS) {
    const parameters = [
      ...Object.entries(op.pathParams ?? {}).map(([name, p]) => ({
        name,
        in: "path",
        required: true,
        description: p.description,
        schema: jsonSchemaOf(p.schema, "input"),
      })),
      ...Object.entries(op.headerParams ?? {}).map(([name, p]) => ({
        name,
        in: "header",
        required: p.required ?? false,
        description: p.description,
        schema: jsonSchemaOf(p.schema, "input"),
      })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(r.headers).map(([h, d]) => [
                  h,
                  { description: d, schema: { type: "string" } },
                ]),
              ),
            }
          : {}),
        content: { "application/json": { schema: r.body ? ref(r.body) : { type: "object" } } },
      };
    }
    for (const status of errorStatuses(op))
      responses[status] = { $ref: `#/components/responses/${ERRORS[status].name}` };
    const requestBody =
      op.body === undefined
        ? undefined
        : "json" in op.body
          ? {
              required: true,
              description: op.body.description,
              content: { "application/json": { schema: ref(op.body.json) } },
            }
          : {
              required: true,
              description: op.body.description,
              content: Object.fromEntries(
                op.body.binary.map((type) => [type, { schema: { type: "string", contentMediaType: type } }]),
              ),
            };
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, unknown>)[op.method.toLowerCase()] = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.public ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }

  const errorResponses = Object.fromEntries(
    Object.values(ERRORS).map((e) => [
      e.name,
      {
        description: e.description,
        ...(e.retryAfter
          ? {
              headers: {
                "Retry-After": {
                  description: "Seconds to wait before retrying, when given.",
                  schema: { type: "string" },
                },
              },
            }
          : {}),
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    ]),
  );

  return {
    openapi: "3.1.0",
    info: {
      title: "Kiln API",
      version: "1",
      description:
        "Render versioned HTML templates and JSON data to PNG, JPEG, WebP and PDF. Submit a job, poll it " +
        "(or receive a signed webhook) and fetch the output through its signed URL. Every job belongs to the " +
        "tenant of the API key; another tenant's resource answers 404.",
    },
    security: [{ apiKey: [] }],
    tags: [...new Set(API_OPERATIONS.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { apiKey: { type: "apiKey", in: "header", name: "x-api-key" } },
      schemas,
      responses: errorResponses,
    },
  };
}
