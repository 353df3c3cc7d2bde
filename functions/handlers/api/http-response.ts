import type { APIGatewayProxyResult } from "aws-lambda";
import { KilnError, RateLimitedError, ValidationError } from "../../core/errors.js";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/**
 * The one place errors become HTTP responses. Kiln errors say what is wrong (a 400 names each field);
 * anything else is a 500 that says only how to refer to it.
 */
export function errorResponse(
  err: unknown,
  requestId: string,
): { response: APIGatewayProxyResult; unexpected: boolean } {
  if (err instanceof KilnError) {
    const fields = err instanceof ValidationError ? { fields: err.issues } : {};
    const headers: Record<string, string> =
      err instanceof RateLimitedError ? { "retry-after": String(err.retryAfterSeconds) } : {};
    return {
      response: json(err.status, { error: { code: err.code, message: err.message, ...fields } }, headers),
      unexpected: false,
    };
  }
  return {
    response: json(500, {
      error: {
        code: "internal_error",
        message: `Internal error. Quote request id ${requestId} when reporting it.`,
      },
    }),
    unexpected: true,
  };
}
