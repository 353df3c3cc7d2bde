/**
 * Typed errors. Each carries a stable machine-readable code; HTTP statuses are mapped in one place
 * (handlers/api/http-response.ts) and job failures are recorded with the same codes.
 */

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `output.format`; empty for the whole body. */
  readonly field: string;
  readonly message: string;
}

export abstract class KilnError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
}

export class ValidationError extends KilnError {
  readonly code = "invalid_request";
  readonly status = 400;
  constructor(readonly issues: readonly FieldIssue[]) {
    super(issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join("; "));
  }
}

export class UnauthorizedError extends KilnError {
  readonly code = "unauthorized";
  readonly status = 401;
  constructor() {
    super("Missing or invalid API key: send it in the x-api-key header.");
  }
}

export class NotFoundError extends KilnError {
  readonly code = "not_found";
  readonly status = 404;
}

export class MethodNotAllowedError extends KilnError {
  readonly code = "method_not_allowed";
  readonly status = 405;
}

export class PayloadTooLargeError extends KilnError {
  readonly code = "payload_too_large";
  readonly status = 413;
}

export class UnsupportedMediaTypeError extends KilnError {
  readonly code = "unsupported_media_type";
  readonly status = 415;
}

/** The tenant sent more requests than its limit allows; `retryAfterSeconds` goes into Retry-After. */
export class RateLimitedError extends KilnError {
  readonly code = "rate_limited";
  readonly status = 429;
  constructor(
    readonly retryAfterSeconds: number,
    limitDescription: string,
  ) {
    super(
      `Too many requests: this API key's tenant may send ${limitDescription}. Retry after ${retryAfterSeconds} s.`,
    );
  }
}

/**
 * A render that cannot succeed however often it is retried (bad template, impossible output).
 * The job fails at once with this code and message.
 */
export class PermanentRenderError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The same Idempotency-Key came back with a different request body. */
export class IdempotencyConflictError extends KilnError {
  readonly code = "idempotency_key_reused";
  readonly status = 409;
  constructor(
    readonly key: string,
    readonly jobId: string,
  ) {
    const shown = key.length > 80 ? `${key.slice(0, 80)}…` : key;
    super(
      `Idempotency-Key "${shown}" was already used with a different request body (job ${jobId}). ` +
        "Send the original body to get that job again, or use a new key for a new render.",
    );
  }
}
