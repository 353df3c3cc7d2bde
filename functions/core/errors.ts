/**
 * Kiln's errors: one shape, a `kind` that says what sort of failure it is and a stable,
 * machine-readable `code`. Core knows nothing of HTTP: the API maps kinds to statuses in one place
 * (handlers/api/http-response.ts), and the render worker fails a job at once on a `permanent` error
 * and retries everything else, recording the error's code (render-job.ts).
 */
export type ErrorKind =
  /** The request is malformed or breaks a rule; the message names the fields. */
  | "invalid"
  | "unauthorized"
  | "not_found"
  /** The resource exists but not with that method. */
  | "method_not_allowed"
  /** The request contradicts what is stored (a reused idempotency key). */
  | "conflict"
  | "too_large"
  | "unsupported_media_type"
  | "rate_limited"
  /** No retry can change the outcome: a bad template, a document Chromium rejects, a refused address. */
  | "permanent"
  /** May pass when tried again: a timeout, a resource that failed to load. */
  | "transient";

export class KilnError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `output.format`; empty for the whole body. */
  readonly field: string;
  readonly message: string;
}

export class ValidationError extends KilnError {
  constructor(readonly issues: readonly FieldIssue[]) {
    super(
      "invalid",
      "invalid_request",
      issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join("; "),
    );
  }
}

export class UnauthorizedError extends KilnError {
  constructor() {
    super("unauthorized", "unauthorized", "Missing or invalid API key: send it in the x-api-key header.");
  }
}

export class NotFoundError extends KilnError {
  constructor(message: string) {
    super("not_found", "not_found", message);
  }
}

/**
 * A 404 for a resource asked for by id. The id is echoed only when it is well-formed, so that a long
 * or hostile path never comes back in the answer.
 */
export function noSuch(what: string, id: string, wellFormed: boolean): NotFoundError {
  return new NotFoundError(
    wellFormed ? `No ${what} ${id}.` : `No ${what} with that id: it is not a well-formed ${what} id.`,
  );
}

export class MethodNotAllowedError extends KilnError {
  constructor(message: string) {
    super("method_not_allowed", "method_not_allowed", message);
  }
}

export class PayloadTooLargeError extends KilnError {
  constructor(message: string) {
    super("too_large", "payload_too_large", message);
  }
}

export class UnsupportedMediaTypeError extends KilnError {
  constructor(message: string) {
    super("unsupported_media_type", "unsupported_media_type", message);
  }
}

/** The tenant sent more requests than its limit allows; `retryAfterSeconds` goes into Retry-After. */
export class RateLimitedError extends KilnError {
  constructor(
    readonly retryAfterSeconds: number,
    limitDescription: string,
  ) {
    super(
      "rate_limited",
      "rate_limited",
      `Too many requests: this API key's tenant may send ${limitDescription}. Retry after ${retryAfterSeconds} s.`,
    );
  }
}

/** The same Idempotency-Key came back with a different request body. */
export class IdempotencyConflictError extends KilnError {
  constructor(
    readonly key: string,
    readonly jobId: string,
  ) {
    const shown = key.length > 80 ? `${key.slice(0, 80)}…` : key;
    super(
      "conflict",
      "idempotency_key_reused",
      `Idempotency-Key "${shown}" was already used with a different request body (job ${jobId}). ` +
        "Send the original body to get that job again, or use a new key for a new render.",
    );
  }
}

/**
 * A render that cannot succeed however often it is retried (bad template, impossible output).
 * The job fails at once with this code and message.
 */
export class PermanentRenderError extends KilnError {
  constructor(code: string, message: string) {
    super("permanent", code, message);
  }
}

/** True for errors that no retry can fix. */
export function isPermanent(err: unknown): err is KilnError {
  return err instanceof KilnError && err.kind === "permanent";
}
