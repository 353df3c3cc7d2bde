import type { APIGatewayProxyEvent } from "aws-lambda";
import { z } from "zod";
import { ASSETS, mebibytes } from "../../core/assets.js";
import { LIMITS } from "../../core/render-request.js";
import { jsonSchemaRules } from "../../core/schema-rules.js";
import { json } from "./http-response.js";
import { API_OPERATIONS, type ApiOperation, type ErrorStatus, type NamedSchema } from "./operations.js";
import type { OperationHandlers } from "./request.js";
import { ErrorBodySchema } from "./response-schemas.js";

/**
 * The OpenAPI 3.1 document of the API (`GET /openapi.json`, and docs/api.md through
 * bin/docs/api-reference.ts), generated from the operation table in operations.ts.
 */

/** Public, so that clients and tools can read the document without a key. */
export const openApiHandlers: Pick<OperationHandlers, "getOpenApi"> = {
  async getOpenApi({ event }) {
    return json(200, openApiDocument({ serverUrl: stageBasePath(event) }), {
      "cache-control": "public, max-age=300",
    });
  },
};

/** Where the API is mounted: the stage (or custom-domain base path) before the route, e.g. `/live`. */
function stageBasePath(event: APIGatewayProxyEvent): string {
  const full = event.requestContext?.path ?? event.path;
  return full.endsWith(event.path) && full.length > event.path.length
    ? full.slice(0, -event.path.length)
    : "/";
}

const ERRORS: Readonly<
  Record<ErrorStatus, { name: string; description: string; retryAfter?: true; allow?: true }>
> = {
  400: { name: "BadRequest", description: "`invalid_request`: `fields` names each field that is wrong." },
  401: { name: "Unauthorized", description: "`unauthorized`: missing or invalid API key." },
  404: { name: "NotFound", description: "`not_found`: no such resource for this tenant." },
  405: {
    name: "MethodNotAllowed",
    description:
      "`method_not_allowed`: the path has no operation with this method; `Allow` lists those it has.",
    allow: true,
  },
  406: {
    name: "NotAcceptable",
    description:
      "`not_acceptable`: `Accept` names only output types the job does not make; the message names both.",
  },
  409: {
    name: "Conflict",
    description:
      "`idempotency_key_reused`: the Idempotency-Key was used with a different body; `rotation_in_progress`: another rotation of the webhook secret came first.",
  },
  413: {
    name: "PayloadTooLarge",
    description:
      `\`payload_too_large\`: a JSON body over ${mebibytes(LIMITS.requestBytes)}, or a file over ${mebibytes(ASSETS.maxBytes)} ` +
      "through PUT /v1/assets/{key} (larger files: POST /v1/asset-uploads).",
  },
  415: { name: "UnsupportedMediaType", description: "`unsupported_media_type`: wrong Content-Type." },
  422: {
    name: "RenderFailed",
    description:
      "`Accept` asked for the output of a job that failed: `code` and `message` are the job's failure (its failure codes are in docs/operations.md); the job is at Location.",
  },
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
  // Every path answers 405 to a method it has no operation for.
  const implied: ErrorStatus[] = op.public ? [405, 500] : [401, 405, 429, 500];
  if (op.body && "json" in op.body) implied.push(400, 413, 415);
  return [...new Set([...implied, ...(op.errors ?? [])])].sort((a, b) => a - b);
}

export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema 2020-12 (OpenAPI 3.1's dialect) of a zod schema. Refinements have none of their own: the
 * rules they check are added from the schemas' jsonSchemaRules where JSON Schema can state them.
 */
function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    reused: "inline",
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema }) => {
      refuseFlaggedPatterns(zodSchema);
      if (io === "input") Object.assign(jsonSchema, jsonSchemaRules.get(zodSchema));
    },
  }) as JsonSchema;
  return json;
}

/**
 * JSON Schema patterns have no flags: a case-insensitive zod regex would be published as a
 * case-sensitive pattern, refusing what the API accepts. Spell such patterns out (`[aA]`) instead.
 */
function refuseFlaggedPatterns(schema: z.core.$ZodType): void {
  const patterns = (schema._zod.bag.patterns ?? []) as Iterable<unknown>;
  for (const pattern of patterns) {
    if (pattern instanceof RegExp && pattern.flags.replace(/[gu]/g, "") !== "") {
      throw new Error(`The pattern ${pattern} has flags JSON Schema cannot state.`);
    }
  }
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
  ref({ name: "Error", schema: ErrorBodySchema, io: "output" });

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
      ...Object.entries(op.queryParams ?? {}).map(([name, p]) => ({
        name,
        in: "query",
        required: false,
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
        ...(e.allow
          ? {
              headers: {
                Allow: { description: "The methods the path has.", schema: { type: "string" } },
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
