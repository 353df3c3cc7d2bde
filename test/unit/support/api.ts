import type { APIGatewayProxyEvent } from "aws-lambda";
import {
  FakeUrlSigner,
  FixedClock,
  MemoryApiKeyStore,
  MemoryIdempotencyStore,
  MemoryJobStore,
  MemoryPayloadStore,
  MemoryRenderQueue,
  MemoryWebhookSecretStore,
} from "../../../functions/adapters/memory/memory-ports.js";
import { silentLogger } from "../../../functions/adapters/silent-logger.js";
import type { ApiDeps } from "../../../functions/handlers/api/handler.js";

export const KEY_A = "key-of-tenant-a";
export const KEY_B = "key-of-tenant-b";

/**
 * The api handler's dependencies on in-memory fakes: tenants a and b with KEY_A and KEY_B, a fixed
 * clock; `overrides` replace any of them or add the optional ones (batches, settings, templates …).
 */
export function memoryApiDeps(overrides: Partial<ApiDeps> = {}): ApiDeps {
  const clock = overrides.clock ?? new FixedClock();
  return {
    jobs: new MemoryJobStore(),
    queue: new MemoryRenderQueue(),
    apiKeys: new MemoryApiKeyStore({ a: KEY_A, b: KEY_B }),
    signer: new FakeUrlSigner(clock),
    payloads: new MemoryPayloadStore(),
    idempotency: new MemoryIdempotencyStore(),
    webhookSecrets: new MemoryWebhookSecretStore(),
    webhookSecretOverlapSeconds: 24 * 3600,
    clock,
    logger: silentLogger,
    ...overrides,
  };
}

/** UUID-shaped ids 00000000-0000-4000-8000-000000000001, …2, …: predictable in assertions. */
export function sequentialIds(): () => string {
  let n = 0;
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
}

/** An API Gateway proxy event: no body, not base64, request id req-1, unless `fields` say otherwise. */
export function apiEvent(
  fields: Partial<APIGatewayProxyEvent> & Pick<APIGatewayProxyEvent, "httpMethod" | "path">,
): APIGatewayProxyEvent {
  return {
    headers: {},
    body: null,
    isBase64Encoded: false,
    queryStringParameters: null,
    ...fields,
    requestContext: { requestId: "req-1", ...fields.requestContext },
  } as APIGatewayProxyEvent;
}
