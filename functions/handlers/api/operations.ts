import { z } from "zod";
import {
  ASSET_CONTENT_TYPES,
  ASSETS,
  AssetKeySchema,
  AssetUploadRequestSchema,
  mebibytes,
} from "../../core/assets.js";
import { BATCHES, BatchSubmissionSchema } from "../../core/batches.js";
import { LIMITS, RenderSubmissionSchema } from "../../core/render-request.js";
import { maxJobReads, RENDER_WAIT } from "../../core/render-wait.js";
import { CreateTemplateSchema, TemplateIdSchema } from "../../core/templates.js";
import { TenantSettingsSchema } from "../../core/tenant-settings.js";
import {
  AssetUploadSchema,
  BatchOutputsPageSchema,
  BatchViewSchema,
  CreatedTemplateVersionSchema,
  JobViewSchema,
  StoredAssetSchema,
  SubmittedBatchSchema,
  SubmittedJobSchema,
  TemplateListSchema,
  TemplateVersionSourceSchema,
  TemplateVersionsSchema,
  WebhookSecretSchema,
} from "./response-schemas.js";

/**
 * Kiln's HTTP API as data: one entry per operation. The api function routes by it and validates
 * JSON bodies with its schemas (handlers are bound to operation ids in handler.ts, checked by the
 * compiler); `GET /openapi.json` and docs/api.md are generated from it; the CDK app builds API
 * Gateway's resources, methods, API key requirements and path parameters from it. This module holds
 * no handler code, so the CDK app can import it.
 *
 * Adding a route is one entry here and its handler, bound by operation id in handler.ts (the compiler
 * refuses an operation without one); authentication, 401/405/429/500 and, for JSON bodies,
 * 400/413/415 are implied.
 */

/** A schema that becomes `#/components/schemas/<name>`. */
export interface NamedSchema<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly schema: S;
  /** `input` for request bodies (before defaults and transforms), `output` for responses. */
  readonly io: "input" | "output";
}

export interface ApiResponse {
  readonly description: string;
  readonly body?: NamedSchema;
  /** Response header name → what it carries. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type ErrorStatus = 400 | 401 | 404 | 405 | 406 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

export interface ParameterDoc {
  readonly description: string;
  readonly schema: z.ZodType;
}

export interface ApiOperation {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** OpenAPI path template: `/v1/renders/{id}`; every `{name}` is described in pathParams. */
  readonly path: string;
  readonly operationId: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  /** Answers without an API key. */
  readonly public?: true;
  /** Path parameter name → its description and schema. */
  readonly pathParams?: Readonly<
    Record<
      string,
      ParameterDoc & {
        /** Matches the rest of the path, `/` included (API Gateway's `{name+}`). */
        readonly mayContainSlashes?: true;
      }
    >
  >;
  /** Query parameter name → its description and schema; all optional. */
  readonly queryParams?: Readonly<Record<string, ParameterDoc>>;
  /** Request header name → its description and schema. */
  readonly headerParams?: Readonly<Record<string, ParameterDoc & { readonly required?: boolean }>>;
  /**
   * A JSON body is parsed with its schema before the handler runs; a binary body is left to the handler.
   */
  readonly body?:
    | { readonly json: NamedSchema; readonly description: string }
    | { readonly binary: readonly string[]; readonly description: string };
  /** Success answers by status. */
  readonly responses: Readonly<Record<number, ApiResponse>>;
  /** Errors particular to this operation; 401, 405, 429 and 500 (and 400/413/415 for JSON bodies) are implied. */
  readonly errors?: readonly ErrorStatus[];
}

const named = <S extends z.ZodType>(
  name: string,
  schema: S,
  io: "input" | "output" = "output",
): NamedSchema<S> => ({ name, schema, io });

const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x20-\x7e]+$/);

/** Job and batch ids: lowercase UUIDs. */
export const ResourceIdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
export const isResourceId = (id: string) => ResourceIdSchema.safeParse(id).success;

const TEMPLATE_ID = { description: "The template's id.", schema: TemplateIdSchema };
const BATCH_ID = { description: "The batch id.", schema: ResourceIdSchema };
const LOCATION = "Path of the created resource.";
const JOB_LOCATION = "Path of the job, to poll.";

const WAIT_CAP = RENDER_WAIT.maxSeconds;
const PREFER = {
  description:
    `\`wait=N\` (RFC 7240): answer as soon as the job has succeeded or failed, or after N seconds, whichever comes first. ` +
    `N is whole seconds; more than ${WAIT_CAP} is cut to ${WAIT_CAP} (API Gateway gives a request 29 s). ` +
    `Meanwhile the job is read at growing intervals, up to once a second: at most ${maxJobReads(WAIT_CAP * 1000)} reads for ${WAIT_CAP} s. ` +
    "Other preferences are ignored; a `wait` that is not a whole number ≥ 0 is a 400 naming `Prefer`.",
  schema: z.string().max(1024),
};
const PREFERENCE_APPLIED = `\`wait=N\` when the request's wait was honoured, N as applied (at most ${WAIT_CAP}).`;
const ACCEPT = {
  description:
    "`image/png`, `image/jpeg`, `image/webp` or `application/pdf` (the job's output type) asks for the output " +
    "itself: once the job has succeeded, a 303 to the output's signed URL (`curl -L` follows it); a failed job " +
    "answers 422 with its failure; an unfinished one 202 with Location. An output type the job does not make " +
    "is a 406 naming both. `application/json`, `*/*`, none or any other type: the JSON answers.",
  schema: z.string().max(1024),
};
const SEE_OUTPUT = "The output's signed URL (short-lived CloudFront URL, minted for this answer).";

// Literal types kept: handlers' request types (path parameters, parsed body) are derived from them.
const OPERATION_TABLE = [
  {
    method: "POST",
    path: "/v1/renders",
    operationId: "submitRender",
    tag: "Renders",
    summary: "Submit a render job",
    description:
      "Validates the request (a stored template must exist and its data schema must be satisfied), " +
      `stores the job and queues it. Bodies over ${LIMITS.inlineRequestBytes / 1024} KiB are kept in S3 by reference. ` +
      `With \`Prefer: wait=N\` (N ≤ ${WAIT_CAP} s) one request renders: the answer comes when the job ends, as a 200 ` +
      "with the job (as GET /v1/renders/{id} shows it), or after N s as the 202. With `Accept` naming the output's " +
      "type it is the output itself (303 to its signed URL). " +
      "Instead of a template a job may name a live page (`source`): its headers and cookies are encrypted before anything is stored, " +
      "are sent only to the page's own origin, and are never returned.",
    headerParams: {
      "Idempotency-Key": {
        description:
          "Makes the POST safe to retry: the same key with the same body answers the same job (200) for 24 hours; " +
          "with a different body, 409. Keys are per tenant. A repeat honours its own `Prefer: wait`.",
        schema: IdempotencyKeySchema,
      },
      Prefer: PREFER,
      Accept: ACCEPT,
    },
    body: {
      json: named("RenderRequest", RenderSubmissionSchema, "input"),
      description: "What to render.",
    },
    responses: {
      202: {
        description: "Queued; with `Prefer: wait`, not finished within the wait.",
        body: named("SubmittedJob", SubmittedJobSchema),
        headers: { Location: LOCATION, "Preference-Applied": PREFERENCE_APPLIED },
      },
      200: {
        description:
          "With `Prefer: wait`: the job, which ended within the wait (succeeded or failed). A repeat with this " +
          "Idempotency-Key: the job the first request created, as it is now.",
        body: named("Job", JobViewSchema),
        headers: {
          Location: LOCATION,
          "Idempotent-Replayed": "`true` when an earlier request with this Idempotency-Key created the job.",
          "Preference-Applied": PREFERENCE_APPLIED,
        },
      },
      303: {
        description: "`Accept` named the output's type and the job succeeded: the output is at Location.",
        body: named("Job", JobViewSchema),
        headers: { Location: SEE_OUTPUT, "Preference-Applied": PREFERENCE_APPLIED },
      },
    },
    errors: [406, 409, 422, 503],
  },
  {
    method: "GET",
    path: "/v1/renders/{id}",
    operationId: "getRender",
    tag: "Renders",
    summary: "Get a render job",
    description:
      "The job's status; once it has succeeded, a short-lived CloudFront signed URL of its output minted for this answer. " +
      `With \`?wait=N\` or \`Prefer: wait=N\` (N ≤ ${WAIT_CAP} s) a long poll: the answer comes as soon as the job has ` +
      "ended, else after N s with the job as it is then. With `Accept` naming the output's type, a 303 to the output.",
    pathParams: { id: { description: "The job id.", schema: ResourceIdSchema } },
    queryParams: {
      wait: {
        description: `Seconds to wait for the job to end (whole, ≥ 0; more than ${WAIT_CAP} is cut to ${WAIT_CAP}); before \`Prefer\`.`,
        schema: z.int().min(0),
      },
    },
    headerParams: { Prefer: PREFER, Accept: ACCEPT },
    responses: {
      200: {
        description: "The job (with a wait: ended, or as it is when the wait is over).",
        body: named("Job", JobViewSchema),
        headers: { "Preference-Applied": PREFERENCE_APPLIED },
      },
      202: {
        description: "`Accept` named an output type and the job has not ended (yet): poll Location.",
        body: named("SubmittedJob", SubmittedJobSchema),
        headers: { Location: JOB_LOCATION, "Preference-Applied": PREFERENCE_APPLIED },
      },
      303: {
        description: "`Accept` named the output's type and the job succeeded: the output is at Location.",
        body: named("Job", JobViewSchema),
        headers: { Location: SEE_OUTPUT, "Preference-Applied": PREFERENCE_APPLIED },
      },
    },
    errors: [400, 404, 406, 422],
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
      key: {
        description: "Where the asset is kept, e.g. `brand/logo.png`.",
        schema: AssetKeySchema,
        mayContainSlashes: true,
      },
    },
    body: {
      binary: [...new Set(Object.values(ASSET_CONTENT_TYPES)), "application/octet-stream"],
      description: `The file, at most ${ASSETS.maxBytes} bytes (${mebibytes(ASSETS.maxBytes)}); larger files go through POST /v1/asset-uploads.`,
    },
    responses: { 201: { description: "Stored.", body: named("StoredAsset", StoredAssetSchema) } },
    errors: [400, 404, 413, 415],
  },
  {
    method: "POST",
    path: "/v1/asset-uploads",
    operationId: "createAssetUpload",
    tag: "Assets",
    summary: "Get a URL to upload a large asset straight to S3",
    description:
      `For files over ${mebibytes(ASSETS.maxBytes)}, up to ${mebibytes(ASSETS.maxUploadBytes)}: answers a presigned URL that ` +
      "stores one file under the tenant's key. PUT the file to `url` with exactly the `headers` given (type, size " +
      `and Cache-Control are signed) before \`expiresAt\` (${ASSETS.uploadUrlTtlSeconds} s). The asset is then used like one ` +
      "uploaded with PUT /v1/assets/{key}. Key and type rules are the same.",
    body: {
      json: named("AssetUploadRequest", AssetUploadRequestSchema, "input"),
      description: "The asset's key, type and exact size.",
    },
    responses: {
      201: { description: "The upload URL.", body: named("AssetUpload", AssetUploadSchema) },
    },
    errors: [404],
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
    method: "POST",
    path: "/v1/webhooks/secret/rotate",
    operationId: "rotateWebhookSecret",
    tag: "Webhooks",
    summary: "Rotate the webhook signing secret",
    description:
      "Makes a new secret, which signs every delivery from now on. The replaced secret keeps signing " +
      "deliveries beside it until `previousSecretExpiresAt` (24 hours unless the deployment sets " +
      "otherwise), so receivers can move to the new one without missing an event: during that window " +
      "`webhook-signature` carries two `v1,…` signatures. Rotating again within the window drops the " +
      "older secret at once.",
    responses: {
      200: { description: "The new secret.", body: named("WebhookSecret", WebhookSecretSchema) },
    },
    errors: [409],
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
    description: `Up to ${BATCHES.outputsPageSize} records from index \`start\`, each with a signed URL of its output.`,
    pathParams: { id: BATCH_ID },
    queryParams: {
      start: {
        description: "Index of the page's first record: `next` of the previous page.",
        schema: z.int().min(0).default(0),
      },
    },
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
] as const satisfies readonly ApiOperation[];

/** Every operation of the API, in the order the docs list them. */
export const API_OPERATIONS: readonly ApiOperation[] = OPERATION_TABLE;

type Operation = (typeof OPERATION_TABLE)[number];
export type OperationId = Operation["operationId"];
export type OperationById<Id extends OperationId> = Extract<Operation, { readonly operationId: Id }>;

/** `"id" | "version"` for `/v1/templates/{id}/versions/{version}`. */
export type PathParamNames<Path extends string> = Path extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamNames<Rest>
  : never;

/** What a JSON body parses to (with defaults and transforms applied); undefined without one. */
export type RequestBodyOf<Op> = Op extends { readonly body: { readonly json: NamedSchema<infer S> } }
  ? z.output<S>
  : undefined;

// Compile-time check: pathParams describes exactly the `{name}`s of its path (API Gateway would
// refuse every request that lacks a required parameter).
type DescribedPathParams<Op> = Op extends { readonly pathParams: infer P } ? keyof P & string : never;
type MismatchedPathParams = {
  [Op in Operation as Op["operationId"]]:
    | Exclude<PathParamNames<Op["path"]>, DescribedPathParams<Op>>
    | Exclude<DescribedPathParams<Op>, PathParamNames<Op["path"]>>;
}[OperationId];
const pathParamsMatchPaths: [MismatchedPathParams] extends [never] ? true : false = true;
void pathParamsMatchPaths;

/** The API Gateway resource path of an operation: a parameter that may hold `/` is `{name+}`. */
export function gatewayPath(op: ApiOperation): string {
  return op.path.replace(/\{([^}]+)\}/g, (whole, name: string) =>
    op.pathParams?.[name]?.mayContainSlashes ? `{${name}+}` : whole,
  );
}
