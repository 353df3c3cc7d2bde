import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { TENANT_NAME } from "../../core/api-keys.js";
import type { AssetStore } from "../../core/assets.js";
import {
  KilnError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "../../core/errors.js";
import { toJobView } from "../../core/job-view.js";
import { CORRELATION_ID_HEADER, correlationIdFrom } from "../../core/observability.js";
import type {
  ApiKeyStore,
  Clock,
  IdempotencyStore,
  JobStore,
  Logger,
  PayloadStore,
  RateLimiter,
  RenderQueue,
  TenantSettingsStore,
  UrlSigner,
  WebhookSecretStore,
} from "../../core/ports.js";
import { describeRateLimit } from "../../core/rate-limit.js";
import { LIMITS, parseOrThrow, RenderSubmissionSchema, tooDeepAt } from "../../core/render-request.js";
import { checkIdempotencyKey, submitRender } from "../../core/submit-render.js";
import { checkRenderTemplate, type TemplateDeps } from "../../core/templates.js";
import { type CallbackUrlPolicy, callbackUrlProblem, DEFAULT_CALLBACK_POLICY } from "../../core/webhooks.js";
import { type BatchApiDeps, batchRoutes } from "./batch-routes.js";
import { documentRoutes } from "./document-routes.js";
import { errorResponse, json } from "./http-response.js";
import { openApiDocument } from "./openapi.js";
import { settingsRoutes } from "./settings-routes.js";

export interface ApiDeps {
  readonly jobs: JobStore;
  readonly queue: RenderQueue;
  readonly apiKeys: ApiKeyStore;
  readonly signer: UrlSigner;
  readonly payloads: PayloadStore;
  readonly idempotency: IdempotencyStore;
  readonly webhookSecrets: WebhookSecretStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @default DEFAULT_CALLBACK_POLICY (https to public hosts) */
  readonly callbackPolicy?: CallbackUrlPolicy;
  readonly newId?: () => string;
  /** Versioned templates; without them only inline templates are accepted. */
  readonly templates?: TemplateDeps;
  /** The assets bucket, for PUT /v1/assets/{key}. */
  readonly assets?: AssetStore;
  /** Batches (POST /v1/batches …); without them those routes answer 404. */
  readonly batches?: BatchApiDeps;
  /** Per-tenant settings, for GET and PUT /v1/settings. */
  readonly settings?: TenantSettingsStore;
  /**
   * Per-tenant request limit, checked right after authentication. On Lambda none: API Gateway's
   * usage plan already throttles each API key.
   */
  readonly rateLimiter?: RateLimiter;
}

/** What one request carries through its route: its correlation id and a logger scoped to it. */
interface RequestScope {
  readonly requestId: string;
  readonly correlationId: string;
  readonly logger: Logger;
}

type Route = (
  tenant: string,
  event: APIGatewayProxyEvent,
  match: RegExpExecArray,
  scope: RequestScope,
) => Promise<APIGatewayProxyResult>;

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function makeHandler(deps: ApiDeps) {
  const { jobs, apiKeys, signer, logger } = deps;
  const newId = deps.newId ?? randomUUID;
  const callbackPolicy = deps.callbackPolicy ?? DEFAULT_CALLBACK_POLICY;

  const submit: Route = async (tenant, event, _match, { correlationId, logger }) => {
    const submission = parseOrThrow(RenderSubmissionSchema, readJsonBody(event));
    const problem = submission.callbackUrl && callbackUrlProblem(submission.callbackUrl, callbackPolicy);
    if (problem) throw new ValidationError([{ field: "callbackUrl", message: problem }]);
    // A stored template must exist, and data must satisfy its schema: 400 before anything is queued.
    await checkRenderTemplate(deps.templates, tenant, submission.template, submission.data);
    const rawKey = header(event, "idempotency-key");
    const key = rawKey === undefined ? undefined : checkIdempotencyKey(rawKey);
    let submitted: Awaited<ReturnType<typeof submitRender>>;
    try {
      submitted = await submitRender({ ...deps, newId }, tenant, submission, key, correlationId);
    } catch (err) {
      if (err instanceof KilnError) throw err;
      // Nothing visible was created: the job record is written last. A retry (best with an
      // Idempotency-Key) finishes or repeats the submission safely.
      logger.error("submit failed", { tenant, error: (err as Error).message });
      return json(
        503,
        {
          error: {
            code: "unavailable",
            message:
              "The render could not be queued; no job was created. Retry the request, with the same Idempotency-Key if you sent one.",
          },
        },
        { "retry-after": "1" },
      );
    }
    const { job, replayed } = submitted;
    const headers: Record<string, string> = { location: `/v1/renders/${job.id}` };
    if (replayed) {
      headers["idempotent-replayed"] = "true";
      logger.info("job replayed for its idempotency key", { tenant, jobId: job.id });
      return json(200, { id: job.id, status: job.status }, headers);
    }
    logger.info("job queued", { tenant, jobId: job.id, large: job.payloadKey !== undefined });
    return json(202, { id: job.id, status: job.status }, headers);
  };

  const getRender: Route = async (tenant, _event, match) => {
    const id = match[1] ?? "";
    const job = JOB_ID.test(id) ? await jobs.get(tenant, id) : undefined;
    if (!job) throw new NotFoundError(`No render job ${id}.`);
    const [url] = job.output ? await signer.sign([job.output.key]) : [];
    return json(200, toJobView(job, url));
  };

  /** How a tenant gets the secret its webhook receivers verify signatures with. */
  const getWebhookSecret: Route = async (tenant) => {
    const secret = await deps.webhookSecrets.getOrCreate(tenant);
    return json(200, { secret, scheme: "standard-webhooks-v1" });
  };

  /** The OpenAPI document of this API; public, so clients and tools can read it without a key. */
  const getOpenApi: Route = async (_tenant, event) =>
    json(200, openApiDocument({ serverUrl: stageBasePath(event) }), {
      "cache-control": "public, max-age=300",
    });

  // `public` routes answer without an API key (and with no tenant).
  const routes: Array<{ path: RegExp; methods: Record<string, Route>; public?: boolean }> = [
    { path: /^\/openapi\.json$/, methods: { GET: getOpenApi }, public: true },
    { path: /^\/v1\/renders\/?$/, methods: { POST: submit } },
    { path: /^\/v1\/renders\/([^/]+)\/?$/, methods: { GET: getRender } },
    { path: /^\/v1\/webhooks\/secret\/?$/, methods: { GET: getWebhookSecret } },
    ...documentRoutes({ ...deps, readJsonBody }),
    ...batchRoutes({ ...deps, newId, callbackPolicy, readJsonBody }),
    ...settingsRoutes({ ...deps, readJsonBody }),
  ];

  const answer = async (event: APIGatewayProxyEvent, scope: RequestScope): Promise<APIGatewayProxyResult> => {
    const { requestId } = scope;
    try {
      const route = routes.find((r) => r.path.test(event.path));
      if (!route) throw new NotFoundError(`No route for ${event.path}.`);
      if (route.public) {
        const open = route.methods[event.httpMethod];
        if (!open) throw new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${event.path}.`);
        return await open("", event, route.path.exec(event.path) as RegExpExecArray, scope);
      }
      const tenant = await authenticate(apiKeys, event);
      const allowance = await deps.rateLimiter?.take(tenant);
      if (allowance && !allowance.allowed) {
        throw new RateLimitedError(allowance.retryAfterSeconds, describeRateLimit(allowance.limit));
      }
      const method = route.methods[event.httpMethod];
      if (!method) throw new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${event.path}.`);
      return await method(tenant, event, route.path.exec(event.path) as RegExpExecArray, scope);
    } catch (err) {
      const { response, unexpected } = errorResponse(err, requestId);
      if (unexpected)
        scope.logger.error("request failed", { path: event.path, error: (err as Error)?.message });
      return response;
    }
  };

  const apiHandler = async function apiHandler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const requestId = event.requestContext?.requestId ?? randomUUID();
    // The caller's id when it is well-formed, else API Gateway's request id: echoed, stored, logged.
    const correlationId = correlationIdFrom(header(event, CORRELATION_ID_HEADER), requestId);
    const scope = { requestId, correlationId, logger: logger.child({ correlationId, requestId }) };
    const response = await answer(event, scope);
    return { ...response, headers: { ...response.headers, [CORRELATION_ID_HEADER]: correlationId } };
  };
  // What this handler answers, for checking the OpenAPI document against it.
  return Object.assign(apiHandler, {
    routes: routes.map((r) => ({ path: r.path, methods: Object.keys(r.methods), public: r.public === true })),
  });
}

/** Where the API is mounted: the stage (or custom-domain base path) before the route, e.g. `/live`. */
function stageBasePath(event: APIGatewayProxyEvent): string {
  const full = event.requestContext?.path ?? event.path;
  return full.endsWith(event.path) && full.length > event.path.length
    ? full.slice(0, -event.path.length)
    : "/";
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const entry = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === name);
  return entry?.[1] ?? undefined;
}

async function authenticate(apiKeys: ApiKeyStore, event: APIGatewayProxyEvent): Promise<string> {
  const key = header(event, "x-api-key");
  const tenant = key ? await apiKeys.tenantFor(key) : undefined;
  if (!tenant) throw new UnauthorizedError();
  // Fail closed on a key registered by hand with a tenant name that could reach into another's keys.
  if (!TENANT_NAME.test(tenant)) throw new Error("The API key's tenant name is not letters, digits, _ or -.");
  return tenant;
}

function readJsonBody(event: APIGatewayProxyEvent): unknown {
  const contentType = header(event, "content-type");
  if (contentType && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new UnsupportedMediaTypeError(`Content-Type must be application/json, not ${contentType}.`);
  }
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64").toString("utf8")
    : (event.body ?? "");
  const bytes = Buffer.byteLength(raw, "utf8");
  if (bytes > LIMITS.requestBytes) {
    throw new PayloadTooLargeError(
      `The request body is ${bytes} bytes; it must be at most ${LIMITS.requestBytes} bytes (3 MiB). ` +
        "Reference large images and fonts by URL instead of embedding them.",
    );
  }
  if (raw.trim() === "")
    throw new ValidationError([{ field: "", message: "request body is empty; send a JSON object" }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new ValidationError([
      { field: "", message: `request body is not valid JSON (${(err as Error).message})` },
    ]);
  }
  const deep = tooDeepAt(parsed);
  if (deep !== undefined) {
    throw new ValidationError([
      {
        field: deep.join("."),
        message: `is nested too deeply: JSON may nest at most ${LIMITS.jsonDepth} levels`,
      },
    ]);
  }
  return parsed;
}
