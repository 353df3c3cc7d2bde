/**
 * A local Lambda Runtime API (the protocol Lambda's runtimes speak to the service) for one execution
 * environment: the runtime loop inside the sandbox long-polls GET /2018-06-01/runtime/invocation/next and
 * answers with POST …/invocation/{id}/response or …/error, or reports a failed init with POST
 * /runtime/init/error. On this side an invocation is a promise: `invoke(event)` resolves with the
 * function's result or rejects with its error. Bound to 127.0.0.1.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "../../functions/local/loopback.js";

export interface RuntimeApiOptions {
  /** Names the function in errors and in the invoked ARN. */
  readonly functionName: string;
  readonly region: string;
  /** The function's timeout: each invocation's deadline, after which it is given up. */
  readonly timeoutMs: number;
  /** Called when an invocation outlives its deadline; Lambda then discards the environment. */
  readonly onTimeout?: (error: Error) => void;
}

export interface RuntimeApi {
  /** `127.0.0.1:<port>`, the value of AWS_LAMBDA_RUNTIME_API. */
  readonly address: string;
  /** Resolves when the runtime first asks for an invocation (its init finished), rejects if init failed. */
  readonly initialized: Promise<void>;
  /**
   * One invocation; invocations of one environment run one at a time, as on Lambda. `qualifier` is the
   * alias (or version) the caller invoked, which the function sees in its invoked ARN.
   */
  invoke(event: unknown, qualifier?: string): Promise<unknown>;
  /** The environment is gone (its process exited): pending and later invocations reject with `error`. */
  fail(error: Error): void;
  stop(): Promise<void>;
}

/** The error body a Lambda runtime posts: what `invoke` rejects with. */
interface RuntimeErrorBody {
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly stackTrace?: readonly string[];
}

interface Pending {
  readonly id: string;
  readonly event: unknown;
  readonly qualifier?: string | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

const PREFIX = "/2018-06-01";
const LOCAL_ACCOUNT = "000000000000";
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

export async function startRuntimeApi(options: RuntimeApiOptions): Promise<RuntimeApi> {
  const queue: Pending[] = [];
  const inFlight = new Map<string, Pending>();
  let waitingRuntime: ServerResponse | undefined;
  let failure: Error | undefined;
  let markInitialized: () => void = () => {};
  let markInitFailed: (error: Error) => void = () => {};
  const initialized = new Promise<void>((resolve, reject) => {
    markInitialized = resolve;
    markInitFailed = reject;
  });
  // A caller that never awaits `initialized` must not see an unhandled rejection.
  initialized.catch(() => {});
  const functionArn = `arn:aws:lambda:${options.region}:${LOCAL_ACCOUNT}:function:${options.functionName}`;

  const settle = (pending: Pending) => {
    clearTimeout(pending.timer);
    inFlight.delete(pending.id);
  };

  const fail = (error: Error) => {
    failure ??= error;
    markInitFailed(failure);
    for (const pending of [...queue.splice(0), ...inFlight.values()]) {
      settle(pending);
      pending.reject(failure);
    }
    waitingRuntime?.destroy();
    waitingRuntime = undefined;
  };

  const dispatch = () => {
    if (!waitingRuntime || failure) return;
    const pending = queue.shift();
    if (!pending) return;
    const res = waitingRuntime;
    waitingRuntime = undefined;
    const deadline = Date.now() + options.timeoutMs;
    inFlight.set(pending.id, pending);
    pending.timer = setTimeout(() => {
      const error = new Error(
        `${options.functionName}: Task timed out after ${(options.timeoutMs / 1000).toFixed(2)} seconds`,
      );
      error.name = "Sandbox.Timedout";
      settle(pending);
      pending.reject(error);
      options.onTimeout?.(error);
    }, options.timeoutMs);
    const body = JSON.stringify(pending.event ?? null);
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "lambda-runtime-aws-request-id": pending.id,
      "lambda-runtime-deadline-ms": String(deadline),
      "lambda-runtime-invoked-function-arn":
        pending.qualifier === undefined ? functionArn : `${functionArn}:${pending.qualifier}`,
      "lambda-runtime-trace-id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString("hex")};Parent=${randomBytes(8).toString("hex")};Sampled=0`,
    });
    res.end(body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { errorMessage: String(error), errorType: "ServiceException" });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const body = await readBody(req);
    if (req.method === "GET" && path === `${PREFIX}/runtime/invocation/next`) {
      markInitialized();
      if (failure) return reply(res, 410, { errorMessage: failure.message, errorType: "EnvironmentGone" });
      waitingRuntime = res;
      dispatch();
      return;
    }
    if (req.method === "POST" && path === `${PREFIX}/runtime/init/error`) {
      const reported = parseErrorBody(body);
      fail(sandboxError(`${options.functionName} failed to initialize`, reported));
      return reply(res, 202, { status: "OK" });
    }
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (req.method === "POST" && match) {
      const pending = inFlight.get(decodeURIComponent(match[1] ?? ""));
      if (!pending) {
        return reply(res, 400, {
          errorMessage: "Unknown or finished request id",
          errorType: "InvalidRequestID",
        });
      }
      settle(pending);
      if (match[2] === "error") {
        pending.reject(sandboxError(`${options.functionName} failed`, parseErrorBody(body)));
      } else if (body.byteLength > MAX_RESPONSE_BYTES) {
        pending.reject(new Error(`${options.functionName}: the response is larger than Lambda's 6 MB.`));
      } else {
        pending.resolve(body.byteLength === 0 ? null : JSON.parse(body.toString("utf8")));
      }
      reply(res, 202, { status: "OK" });
      return;
    }
    reply(res, 404, { errorMessage: `No route ${req.method} ${path}`, errorType: "NotFound" });
  }

  const { url, stop } = await listenOnLoopback(server, 0);
  return {
    address: url.replace(/^http:\/\//, ""),
    initialized,
    invoke(event, qualifier) {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        queue.push({ id: randomUUID(), event, qualifier, resolve, reject });
        dispatch();
      });
    },
    fail,
    stop: async () => {
      fail(new Error(`${options.functionName}: the environment was shut down.`));
      await stop();
    },
  };
}

/**
 * The error a function reported, as an Error whose name is the reported type and whose stack is the
 * function's own (so a stack mapped through source maps inside the sandbox reaches the caller).
 */
function sandboxError(prefix: string, reported: RuntimeErrorBody): Error {
  const type = reported.errorType ?? "Error";
  const error = new Error(`${prefix}: ${type}: ${reported.errorMessage ?? "(no message)"}`);
  error.name = type;
  error.stack = [
    `${type}: ${reported.errorMessage ?? ""}`,
    ...(reported.stackTrace ?? []).map((l) => `    ${l}`),
  ].join("\n");
  return Object.assign(error, { reported });
}

function parseErrorBody(body: Buffer): RuntimeErrorBody {
  try {
    return JSON.parse(body.toString("utf8")) as RuntimeErrorBody;
  } catch {
    return { errorType: "Runtime.Unknown", errorMessage: body.toString("utf8").slice(0, 2000) };
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
