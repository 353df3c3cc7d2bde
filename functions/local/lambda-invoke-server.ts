import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { LOCAL_REGION } from "./aws-clients.js";
import { listenOnLoopback } from "./loopback.js";

/** What Lambda tells a function about its invocation that the local functions read. */
export interface LocalInvocationContext {
  /** The ARN the caller invoked, with its qualifier (`…:function:<name>:<alias>`) when it named one. */
  readonly invokedFunctionArn: string;
}

export type LocalFunction = (event: unknown, context: LocalInvocationContext) => Promise<unknown>;

export interface LambdaInvokeServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Handlers by function name. */
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /**
   * The aliases of each function. A qualifier other than these and `$LATEST` is not found, as on
   * Lambda. @default - no aliases
   */
  readonly aliases?: Readonly<Record<string, readonly string[]>>;
}

export interface LambdaInvokeServer {
  /** `http://127.0.0.1:<port>`, for `localClientConfig(endpoint)`. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Lambda's synchronous invocation payload limit. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const LOCAL_ACCOUNT = "000000000000";
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/**
 * The slice of the Lambda Invoke API the local stack needs, so that callers use the real
 * `LambdaClient` unchanged: synchronous (`RequestResponse`) and `DryRun` invocations, function
 * errors reported the way Lambda reports them, and Lambda's error shapes for bad requests.
 */
export async function startLambdaInvokeServer(
  options: LambdaInvokeServerOptions,
): Promise<LambdaInvokeServer> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch(() => {
      if (!res.headersSent) sendServiceError(res, 500, "ServiceException", "The local Invoke API failed.");
      else res.destroy();
    });
  });
  const { url, stop } = await listenOnLoopback(server, options.port);
  return { endpoint: url, stop };
}

async function handle(
  { functions, aliases = {} }: LambdaInvokeServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const target = new URL(req.url ?? "/", "http://invoke");
  const match = req.method === "POST" ? INVOKE_PATH.exec(target.pathname) : null;
  if (!match?.[1]) {
    req.resume();
    sendServiceError(res, 404, "UnknownOperationException", "The local Invoke API serves only Invoke.");
    return;
  }
  const { name, qualifier: fromName } = parseFunctionName(safeDecode(match[1]));
  const fromParam = target.searchParams.get("Qualifier") ?? undefined;
  if (fromName !== undefined && fromParam !== undefined && fromName !== fromParam) {
    req.resume();
    sendServiceError(
      res,
      400,
      "InvalidParameterValueException",
      "The derived qualifier from the function name does not match the specified qualifier.",
    );
    return;
  }
  const qualifier = fromName ?? fromParam;
  const fn = Object.hasOwn(functions, name) ? functions[name] : undefined;
  const knownQualifier =
    qualifier === undefined || qualifier === "$LATEST" || (aliases[name] ?? []).includes(qualifier);
  if (!fn || !knownQualifier) {
    req.resume();
    sendServiceError(
      res,
      404,
      "ResourceNotFoundException",
      `Function not found: ${functionArn(name, qualifier)}`,
    );
    return;
  }

  const invocationType = header(req, "x-amz-invocation-type") ?? "RequestResponse";
  if (invocationType !== "RequestResponse" && invocationType !== "DryRun") {
    req.resume();
    sendServiceError(
      res,
      400,
      "InvalidParameterValueException",
      `Invocation type ${invocationType} is not supported locally: use RequestResponse or DryRun.`,
    );
    return;
  }

  const body = await readBody(req, MAX_PAYLOAD_BYTES);
  if (body === undefined) {
    sendServiceError(res, 413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes.");
    return;
  }
  let event: unknown;
  try {
    // Lambda hands an empty payload to the function as an empty object.
    event = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
  } catch {
    sendServiceError(res, 400, "InvalidRequestContentException", "Could not parse request body into json.");
    return;
  }
  if (invocationType === "DryRun") {
    res.writeHead(204).end();
    return;
  }

  let payload: string;
  let functionError = false;
  try {
    payload = JSON.stringify((await fn(event, { invokedFunctionArn: functionArn(name, qualifier) })) ?? null);
  } catch (error) {
    functionError = true;
    payload = JSON.stringify(errorPayload(error));
  }
  res.writeHead(200, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    "x-amz-executed-version": "$LATEST",
    ...(functionError ? { "x-amz-function-error": "Unhandled" } : {}),
  });
  res.end(payload);
}

/** What the Node.js Lambda runtime reports for a thrown error. */
function errorPayload(error: unknown): { errorType: string; errorMessage: string; trace: string[] } {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? "").split("\n") };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

/** Accepts a name, `name:qualifier`, a partial ARN or a full ARN, each with or without a qualifier, as Lambda does. */
function parseFunctionName(raw: string): { name: string; qualifier?: string } {
  const parts = raw.split(":");
  const index = parts.indexOf("function");
  const name = (index >= 0 ? parts[index + 1] : parts[0]) ?? raw;
  const qualifier = index >= 0 ? parts[index + 2] : parts[1];
  return qualifier === undefined ? { name } : { name, qualifier };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function functionArn(name: string, qualifier?: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}${qualifier === undefined ? "" : `:${qualifier}`}`;
}

function sendServiceError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ Type: "User", message });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-amzn-errortype": type,
  });
  res.end(body);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads the body, or returns undefined (and drains the rest) once it exceeds `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}
