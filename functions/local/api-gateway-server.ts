import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  API_GATEWAY_MAX_PAYLOAD_BYTES,
  type ErrorText,
  EVENT_TOO_LARGE,
  GATEWAY_PAYLOAD_TOO_LARGE,
  LAMBDA_MAX_INVOKE_PAYLOAD_BYTES,
} from "../handlers/api/http-errors.js";
import { listenOnLoopback } from "./loopback.js";

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/**
 * A page or probe of the local stack only (the preview page, /healthz): answered by the server itself,
 * before any request reaches the api handler. API Gateway in AWS has no such routes.
 */
export type LocalRoute = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface LocalApiGateway {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Plays API Gateway's REST proxy integration: each HTTP request becomes an APIGatewayProxyEvent for
 * the api handler, and its result becomes the HTTP response.
 */
export async function startLocalApiGateway(options: {
  port: number;
  handler: ProxyHandler;
  /** By exact path; GET and HEAD only. */
  localRoutes?: Readonly<Record<string, LocalRoute>>;
}): Promise<LocalApiGateway> {
  const server = createServer((req, res) => {
    const local = localRouteFor(req, options.localRoutes);
    (local ? local(req, res) : serve(req, res, options.handler)).catch(() => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "Internal server error" }));
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on("clientError", answerMalformedRequest);
  const { url, stop } = await listenOnLoopback(server, options.port);
  return { url, stop };
}

/** Why Node's HTTP parser refused a request, in words a client can act on. */
const PARSER_REFUSALS: ReadonlyArray<readonly [RegExp, string]> = [
  [/METHOD/, "the method is not an HTTP method"],
  [/URL|PATH/, "the request target holds characters a URL does not allow"],
  [/HEADER_OVERFLOW/, "the headers are larger than 16 KiB"],
  [/HEADER|TOKEN|CHUNK|CR|LF/, "a header name or value holds characters HTTP does not allow"],
];

/**
 * A request that Node's HTTP parser refuses (a NUL in a header, a malformed request line) never
 * reaches the handler; it still gets Kiln's error shape, as API Gateway's own answers do.
 */
function answerMalformedRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code = error.code ?? "";
  const reason = PARSER_REFUSALS.find(([pattern]) => pattern.test(code))?.[1] ?? "it is not valid HTTP/1.1";
  const tooLarge = code.includes("HEADER_OVERFLOW");
  const message = `The HTTP request is malformed: ${reason}.`;
  const body = JSON.stringify({
    error: tooLarge
      ? { code: "headers_too_large", message }
      : { code: "bad_request", message, fields: [{ field: "", message: reason }] },
  });
  socket.end(
    `HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\n` +
      "content-type: application/json; charset=utf-8\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function localRouteFor(
  req: IncomingMessage,
  routes: Readonly<Record<string, LocalRoute>> | undefined,
): LocalRoute | undefined {
  if (!routes || (req.method !== "GET" && req.method !== "HEAD")) return undefined;
  const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
  return Object.hasOwn(routes, path) ? routes[path] : undefined;
}

/**
 * The whole body, or undefined once it passes the gateway's limit. The rest of an oversize body is
 * read and dropped rather than left unread, so the client, still sending, gets the answer instead of
 * a reset connection.
 */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      if (size > API_GATEWAY_MAX_PAYLOAD_BYTES) return;
      size += chunk.length;
      if (size > API_GATEWAY_MAX_PAYLOAD_BYTES) {
        chunks.length = 0;
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function answerTooLarge(res: ServerResponse, error: ErrorText): void {
  const body = JSON.stringify({ error });
  res.writeHead(413, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

async function serve(req: IncomingMessage, res: ServerResponse, handler: ProxyHandler): Promise<void> {
  const received = await readBody(req);
  if (received === undefined) return answerTooLarge(res, GATEWAY_PAYLOAD_TOO_LARGE);
  const event = toProxyEvent(req, received);
  // As on AWS, the event is the Lambda invocation's payload: one that Lambda would refuse never runs.
  if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_MAX_INVOKE_PAYLOAD_BYTES) {
    return answerTooLarge(res, EVENT_TOO_LARGE);
  }
  const result = await handler(event);
  const body = result.isBase64Encoded
    ? Buffer.from(result.body, "base64")
    : Buffer.from(result.body ?? "", "utf8");
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
  res.writeHead(result.statusCode, { ...headers, "content-length": body.length });
  res.end(body);
}

function toProxyEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEvent {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    multiQuery[k] = [...(multiQuery[k] ?? []), v];
  }
  const textual =
    body.length === 0 ||
    /json|text|xml|urlencoded/i.test(headers["content-type"] ?? headers["Content-Type"] ?? "json");
  const method = req.method ?? "GET";
  const requestId = randomUUID();
  return {
    resource: "/{proxy+}",
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: url.searchParams.size ? query : null,
    multiValueQueryStringParameters: url.searchParams.size ? multiQuery : null,
    pathParameters: { proxy: url.pathname.slice(1) },
    stageVariables: null,
    body: body.length === 0 ? null : textual ? body.toString("utf8") : body.toString("base64"),
    isBase64Encoded: body.length > 0 && !textual,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: method,
      path: url.pathname,
      stage: "local",
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: "local",
      resourcePath: "/{proxy+}",
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        user: null,
        userAgent: headers["user-agent"] ?? headers["User-Agent"] ?? null,
        userArn: null,
      },
    },
  };
}
