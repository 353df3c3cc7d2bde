import type { APIGatewayProxyResult } from "aws-lambda";
import { type ErrorKind, KilnError, RateLimitedError, ValidationError } from "../../core/errors.js";
import { internalError } from "./http-errors.js";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/**
 * The HTTP status of each kind of error. A render's failures are no answer to a request: one that
 * reaches the API is unexpected, and answered like any other (500).
 */
const HTTP_STATUS: Readonly<Record<ErrorKind, number | undefined>> = {
  invalid: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  permanent: undefined,
  transient: undefined,
};

/**
 * The one place errors become HTTP responses. Kiln errors say what is wrong (a 400 names each field);
 * anything else is a 500 that says only how to refer to it.
 */
export function errorResponse(
  err: unknown,
  requestId: string,
): { response: APIGatewayProxyResult; unexpected: boolean } {
  const status = err instanceof KilnError ? HTTP_STATUS[err.kind] : undefined;
  if (err instanceof KilnError && status !== undefined) {
    const fields = err instanceof ValidationError ? { fields: err.issues } : {};
    const headers: Record<string, string> =
      err instanceof RateLimitedError ? { "retry-after": String(err.retryAfterSeconds) } : {};
    return {
      response: json(status, { error: { code: err.code, message: err.message, ...fields } }, headers),
      unexpected: false,
    };
  }
  return {
    response: json(500, { error: internalError(requestId) }),
    unexpected: true,
  };
}
