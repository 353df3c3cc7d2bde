import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { TENANT_NAME } from "../../core/api-keys.js";
import type { AssetStore, AssetUploadSigner } from "../../core/assets.js";
import {
  MethodNotAllowedError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
} from "../../core/errors.js";
import { CORRELATION_ID_HEADER, correlationIdFrom } from "../../core/observability.js";
import type {
  ApiKeyStore,
  Clock,
  IdempotencyStore,
  JobStore,
  Logger,
  Metrics,
  PayloadStore,
  RateLimiter,
  RenderQueue,
  SecretCipher,
  TenantSettingsStore,
  UrlSigner,
  WebhookSecretStore,
} from "../../core/ports.js";
import { describeRateLimit } from "../../core/rate-limit.js";
import { parseOrThrow } from "../../core/render-request.js";
import type { WaitTimer } from "../../core/render-wait.js";
import type { SubmitCacheDeps } from "../../core/submit-render.js";
import type { TemplateDeps } from "../../core/templates.js";
import { type CallbackUrlPolicy, DEFAULT_CALLBACK_POLICY } from "../../core/webhooks.js";
import { type BatchApiDeps, batchHandlers } from "./batch-routes.js";
import { documentHandlers } from "./document-routes.js";
import { NO_SUCH_ROUTE } from "./http-errors.js";
import { errorResponse } from "./http-response.js";
import { openApiHandlers } from "./openapi.js";
import { renderHandlers } from "./render-routes.js";
import { type ApiRequest, header, type OperationHandlers, readJsonBody } from "./request.js";
import { matchRoute } from "./router.js";
import { settingsHandlers } from "./settings-routes.js";

export interface ApiDeps {
  readonly jobs: JobStore;
  readonly queue: RenderQueue;
  readonly apiKeys: ApiKeyStore;
  readonly signer: UrlSigner;
  readonly payloads: PayloadStore;
  readonly idempotency: IdempotencyStore;
  readonly webhookSecrets: WebhookSecretStore;
  /** Seconds a secret replaced by POST /v1/webhooks/secret/rotate still signs deliveries. */
  readonly webhookSecretOverlapSeconds: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @default DEFAULT_CALLBACK_POLICY (https to public hosts) */
  readonly callbackPolicy?: CallbackUrlPolicy;
  readonly newId?: () => string;
  /** Versioned templates; without them only inline templates are accepted. */
  readonly templates?: TemplateDeps;
  /** The assets bucket, for PUT /v1/assets/{key}. */
  readonly assets?: AssetStore;
  /** Presigned uploads into the assets bucket, for POST /v1/asset-uploads. */
  readonly assetUploads?: AssetUploadSigner;
  /** Batches (POST /v1/batches …); without them those routes answer 404. */
  readonly batches?: BatchApiDeps;
  /** Per-tenant settings, for GET and PUT /v1/settings. */
  readonly settings?: TenantSettingsStore;
  /** Encrypts URL jobs' headers and cookies for the worker; needed by any URL job that has some. */
  readonly pageSecrets?: SecretCipher;
  /**
   * Per-tenant request limit, checked right after authentication. On Lambda none: API Gateway's
   * usage plan already throttles each API key.
   */
  readonly rateLimiter?: RateLimiter;
  /** Paces the reads of a job a request waits for (`Prefer: wait`). @default systemTimer */
  readonly timer?: WaitTimer;
  /** The render cache; without it every job is queued. */
  readonly renderCache?: SubmitCacheDeps;
  /** Counts cache hits. @default none */
  readonly metrics?: Metrics;
}

/** What operation handlers get: the api function's dependencies with their defaults filled in. */
export type RouteDeps = ApiDeps & {
  readonly callbackPolicy: CallbackUrlPolicy;
  readonly newId: () => string;
};

/** The handler of each operation in the table (operations.ts); the compiler checks none is missing. */
const OPERATION_HANDLERS: OperationHandlers = {
  ...renderHandlers,
  ...documentHandlers,
  ...batchHandlers,
  ...settingsHandlers,
  ...openApiHandlers,
};

/**
 * The dispatcher's view of the handlers: each is called with a request of the operation the router
 * matched, so the request types checked per operation above hold.
 */
type MatchedOperationHandler = (request: ApiRequest, deps: RouteDeps) => Promise<APIGatewayProxyResult>;
const HANDLERS_BY_OPERATION_ID = OPERATION_HANDLERS as Readonly<Record<string, MatchedOperationHandler>>;

/** What one request carries through its operation: its correlation id and a logger scoped to it. */
interface RequestScope {
  readonly requestId: string;
  readonly correlationId: string;
  readonly logger: Logger;
}

export function makeHandler(deps: ApiDeps) {
  const routeDeps: RouteDeps = {
    ...deps,
    newId: deps.newId ?? randomUUID,
    callbackPolicy: deps.callbackPolicy ?? DEFAULT_CALLBACK_POLICY,
  };

  const answer = async (event: APIGatewayProxyEvent, scope: RequestScope): Promise<APIGatewayProxyResult> => {
    const { requestId, correlationId, logger } = scope;
    try {
      const route = matchRoute(event.httpMethod, event.path);
      if (!route) throw new NotFoundError(NO_SUCH_ROUTE.message);
      const { operation, operations, params } = route;
      // A public operation answers without a key; a wrong method on a path with any keyed operation
      // is refused only after authentication, so it tells an anonymous caller nothing.
      const needsKey = operation ? !operation.public : operations.some((op) => !op.public);
      const tenant = needsKey ? await authenticate(deps.apiKeys, event) : "";
      const allowance = needsKey ? await deps.rateLimiter?.take(tenant) : undefined;
      if (allowance && !allowance.allowed) {
        throw new RateLimitedError(allowance.retryAfterSeconds, describeRateLimit(allowance.limit));
      }
      if (!operation) {
        const { response } = errorResponse(
          // The path template, not the path: a long or hostile id is never echoed.
          new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${operations[0]?.path}.`),
          requestId,
        );
        const allow = operations.map((op) => op.method).join(", ");
        return { ...response, headers: { ...response.headers, allow } };
      }
      const body =
        operation.body && "json" in operation.body
          ? parseOrThrow(operation.body.json.schema, readJsonBody(event))
          : undefined;
      // OperationHandlers has one for every operation id of the table.
      const handle = HANDLERS_BY_OPERATION_ID[operation.operationId] as MatchedOperationHandler;
      return await handle({ tenant, event, params, body, correlationId, logger }, routeDeps);
    } catch (err) {
      const { response, unexpected } = errorResponse(err, requestId);
      if (unexpected) logger.error("request failed", { path: event.path, error: (err as Error)?.message });
      return response;
    }
  };

  return async function apiHandler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const requestId = event.requestContext?.requestId ?? randomUUID();
    // The caller's id when it is well-formed, else API Gateway's request id: echoed, stored, logged.
    const correlationId = correlationIdFrom(header(event, CORRELATION_ID_HEADER), requestId);
    const scope = { requestId, correlationId, logger: deps.logger.child({ correlationId, requestId }) };
    const response = await answer(event, scope);
    return { ...response, headers: { ...response.headers, [CORRELATION_ID_HEADER]: correlationId } };
  };
}

async function authenticate(apiKeys: ApiKeyStore, event: APIGatewayProxyEvent): Promise<string> {
  const key = header(event, "x-api-key");
  const tenant = key ? await apiKeys.tenantFor(key) : undefined;
  if (!tenant) throw new UnauthorizedError();
  // Fail closed on a key registered by hand with a tenant name that could reach into another's keys.
  if (!TENANT_NAME.test(tenant)) throw new Error("The API key's tenant name is not letters, digits, _ or -.");
  return tenant;
}
