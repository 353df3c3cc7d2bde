import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from "../../core/errors.js";
import type { Logger } from "../../core/ports.js";
import { LIMITS, tooDeepAt } from "../../core/render-request.js";
import type { RouteDeps } from "./handler.js";
import type { OperationById, OperationId, PathParamNames, RequestBodyOf } from "./operations.js";

/** One request as the handler of its operation sees it, authenticated and its body parsed. */
export interface ApiRequest<ParamName extends string = string, Body = unknown> {
  /** The API key's tenant; empty on public operations. */
  readonly tenant: string;
  readonly event: APIGatewayProxyEvent;
  /** Path parameters as they appear in the path (still percent-encoded). */
  readonly params: Readonly<Record<ParamName, string>>;
  /** The JSON body parsed with the operation's schema; undefined for operations without one. */
  readonly body: Body;
  readonly correlationId: string;
  /** A logger scoped to this request (correlation and request ids). */
  readonly logger: Logger;
}

/** The handler of one operation, its request typed by the operation's path and body schema. */
export type OperationHandler<Id extends OperationId> = (
  request: ApiRequest<PathParamNames<OperationById<Id>["path"]>, RequestBodyOf<OperationById<Id>>>,
  deps: RouteDeps,
) => Promise<APIGatewayProxyResult>;

/** A handler for every operation of the table, and nothing else. */
export type OperationHandlers = { readonly [Id in OperationId]: OperationHandler<Id> };

export function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const entry = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === name);
  return entry?.[1] ?? undefined;
}

/** A path parameter decoded; as sent when it is not valid percent-encoding. */
export function decodePathParam(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The JSON body, after the content type, size, syntax and nesting checks. */
export function readJsonBody(event: APIGatewayProxyEvent): unknown {
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
