import { ASSETS, mebibytes } from "../../core/assets.js";
import { RateLimitedError, UnauthorizedError } from "../../core/errors.js";
import { describeRateLimit, type RateLimit } from "../../core/rate-limit.js";
import { LIMITS } from "../../core/render-request.js";

/**
 * Errors API Gateway answers on its own, before or instead of the api function, in the words the
 * function uses: lib/constructs/http-api.ts makes its gateway responses from these, the api function
 * and the local stack answer with the same.
 */
export interface ErrorText {
  readonly code: string;
  readonly message: string;
}

/**
 * No operation has this method and path. API Gateway cannot tell a wrong method on a known path from
 * an unknown path; the api function answers the former with 405 and an Allow header.
 */
export const NO_SUCH_ROUTE: ErrorText = {
  code: "not_found",
  message: "No such route: GET /openapi.json lists every method and path of this API.",
};

const unauthorized = new UnauthorizedError();
/** A missing or unknown API key. */
export const INVALID_API_KEY: ErrorText = { code: unauthorized.code, message: unauthorized.message };

/** What to do instead of sending a large body through the API. */
const LARGE_BODY_ADVICE =
  `JSON bodies may have at most ${LIMITS.requestBytes} bytes (${mebibytes(LIMITS.requestBytes)}): reference large images and fonts as assets. ` +
  `Upload files over ${mebibytes(ASSETS.maxBytes)} through a URL from POST /v1/asset-uploads.`;

/** API Gateway's own payload limit (10 MiB): larger bodies are answered by the gateway itself. */
export const API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const GATEWAY_PAYLOAD_TOO_LARGE: ErrorText = {
  code: "payload_too_large",
  message: `The request body must be at most ${API_GATEWAY_MAX_PAYLOAD_BYTES} bytes (10 MiB), API Gateway's limit. ${LARGE_BODY_ADVICE}`,
};

/**
 * Lambda's limit on a synchronous invocation's request (6 MB, "Request must be smaller than 6291456
 * bytes"). The body travels inside API Gateway's event, JSON-escaped or base64-encoded beside the
 * headers, so a body API Gateway accepts may still not reach the function: the gateway answers it 413.
 */
export const LAMBDA_MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const EVENT_TOO_LARGE: ErrorText = {
  code: "payload_too_large",
  message: `The request is too large to reach the api function (Lambda takes at most ${LAMBDA_MAX_INVOKE_PAYLOAD_BYTES} bytes per request, the body inside API Gateway's event). ${LARGE_BODY_ADVICE}`,
};

/** Throttled by the usage plan: the words of the api function's own per-tenant limit. */
export function rateLimited(limit: RateLimit, retryAfterSeconds: number): ErrorText {
  const error = new RateLimitedError(retryAfterSeconds, describeRateLimit(limit));
  return { code: error.code, message: error.message };
}

/** The usage plan's daily quota of the API key is used up. */
export const QUOTA_EXCEEDED: ErrorText = {
  code: "quota_exceeded",
  message: "The daily request quota of this API key is used up.",
};

/** A 5xx never echoes internals: only the request id to quote. */
export function internalError(requestId: string): ErrorText {
  return {
    code: "internal_error",
    message: `Internal error. Quote request id ${requestId} when reporting it.`,
  };
}

/**
 * The gateway's request validator refused the body or a parameter. Gateway response templates are not
 * VTL: they only substitute variables, and cannot escape one, so the validator's own message (free text
 * with double quotes in it, `$context.error.validationErrorString`) would break the JSON. The answer
 * names the operation instead, from variables whose values are our own route table's: `method` and
 * `path` are API Gateway's `$context.httpMethod` and `$context.resourcePath` in the template.
 */
export function gatewayInvalidRequest(method: string, path: string): ErrorText {
  return {
    code: "invalid_request",
    message: `The request does not match the schema of ${method} ${path}; GET /openapi.json describes every field.`,
  };
}

/**
 * Any other 4xx the gateway answers itself; `responseType` is `$context.error.responseType`, one of
 * API Gateway's response type names (letters and underscores), never the free-text message.
 */
export function gatewayRefused(responseType: string): ErrorText {
  return { code: "bad_request", message: `API Gateway refused the request (${responseType}).` };
}
