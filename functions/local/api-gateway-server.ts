import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { listenOnLoopback } from "./loopback.js";

/** API Gateway's own payload limit; bodies over it never reach the function. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

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
}): Promise<LocalApiGateway> {
  const server = createServer((req, res) => {
    serve(req, res, options.handler).catch(() => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "Internal server error" }));
    });
  });
  server.keepAliveTimeout = 5_000;
  const { url, stop } = await listenOnLoopback(server, options.port);
  return { url, stop };
}

async function serve(req: IncomingMessage, res: ServerResponse, handler: ProxyHandler): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) {
      res.writeHead(413, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "Request Too Long" }));
      return;
    }
    chunks.push(chunk as Buffer);
  }
  const result = await handler(toProxyEvent(req, Buffer.concat(chunks)));
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
