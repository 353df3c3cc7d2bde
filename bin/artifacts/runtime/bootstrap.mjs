/**
 * The runtime loop of Kiln's Lambda-shaped sandbox, at /var/runtime/bootstrap.mjs: what Lambda's Node.js
 * runtime does, in little. It resolves `_HANDLER` (`index.handler` → /var/task/index.{js,mjs,cjs}, export
 * `handler`), lets ES-module imports fall back to the layer's node_modules as Lambda's runtime does (plain
 * node reads NODE_PATH for require() only), then loops on the Runtime API: GET …/invocation/next, call the
 * handler with the event and a context, POST …/response or …/error. A failed init is POSTed to
 * /runtime/init/error and ends the process, as on Lambda.
 *
 * `--report-marks` (for `kiln bench --cold`) prints one line per invocation to stderr,
 * `KILN_RUNTIME_MARKS {...}`: the process's performance marks and CPU time so far.
 */
import { existsSync } from "node:fs";
import { request } from "node:http";
import * as nodeModule from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const RUNTIME_API = process.env.AWS_LAMBDA_RUNTIME_API;
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT ?? "/var/task";
const HANDLER = process.env._HANDLER ?? "";
const REPORT_MARKS = process.argv.includes("--report-marks");

performance.mark("runtime:start");

/** One request to the Runtime API; resolves with the status, headers and body text. */
function call(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = request(
      `http://${RUNTIME_API}/2018-06-01${path}`,
      {
        method,
        headers: {
          ...headers,
          ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** The error body Lambda's Node.js runtime posts: type, message and the stack's lines. */
function errorBody(error) {
  const e = error instanceof Error ? error : new Error(String(error));
  return JSON.stringify({
    errorType: e.name,
    errorMessage: e.message,
    stackTrace: (e.stack ?? "")
      .split("\n")
      .slice(1)
      .map((line) => line.trim()),
  });
}

/** Bare ES-module specifiers that the task does not provide resolve from NODE_PATH's directories. */
function resolveFromLayers() {
  const dirs = (process.env.NODE_PATH ?? "").split(":").filter((d) => d.endsWith("node_modules"));
  const fromLayers = (specifier, context, nextResolve) => {
    // Read before nextResolve, which may change the context it is given.
    const importer = context.parentURL;
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      const bare = !/^(?:[./]|[a-z][a-z0-9+.-]*:)/i.test(specifier);
      if (!bare || error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
      const parts = specifier.split("/");
      const packageName = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
      for (const dir of dirs) {
        // The first directory holding the package answers, errors included (a file missing in it).
        if (!existsSync(join(dir, packageName))) continue;
        // A parent inside `dir`'s parent makes Node's own lookup find `dir/<package>`.
        const parent = join(dirname(dir), "lambda-layer-resolution.mjs");
        try {
          return nextResolve(specifier, { ...context, parentURL: pathToFileURL(parent).href });
        } catch (layerError) {
          // Name the real importer, not the stand-in parent.
          if (importer?.startsWith("file:") && typeof layerError?.message === "string") {
            layerError.message = layerError.message.replace(parent, fileURLToPath(importer));
          }
          throw layerError;
        }
      }
      throw error;
    }
  };
  if (typeof nodeModule.registerHooks === "function") {
    nodeModule.registerHooks({ resolve: fromLayers });
  } else {
    throw new Error("The sandbox runtime needs Node 22.15 or later (module.registerHooks).");
  }
}

async function loadHandler() {
  const dot = HANDLER.lastIndexOf(".");
  if (dot <= 0) throw new Error(`_HANDLER ${JSON.stringify(HANDLER)} is not of the form module.export.`);
  const modulePath = HANDLER.slice(0, dot);
  const exportName = HANDLER.slice(dot + 1);
  const file = [".js", ".mjs", ".cjs"]
    .map((ext) => join(TASK_ROOT, `${modulePath}${ext}`))
    .find((candidate) => existsSync(candidate));
  if (!file) {
    const error = new Error(`Cannot find module '${modulePath}' in ${TASK_ROOT} (handler ${HANDLER}).`);
    error.name = "Runtime.ImportModuleError";
    throw error;
  }
  const loaded = await import(pathToFileURL(file).href);
  const handler = loaded[exportName];
  if (typeof handler !== "function") {
    const error = new Error(`${modulePath}.${exportName} is undefined or not exported (handler ${HANDLER}).`);
    error.name = "Runtime.HandlerNotFound";
    throw error;
  }
  return handler;
}

function contextFor(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "";
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? "$LATEST",
    invokedFunctionArn: String(headers["lambda-runtime-invoked-function-arn"] ?? ""),
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "",
    awsRequestId: String(headers["lambda-runtime-aws-request-id"] ?? ""),
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? "",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function reportMarks() {
  if (!REPORT_MARKS) return;
  const marks = {};
  for (const m of performance.getEntriesByType("mark")) marks[m.name] ??= m.startTime;
  process.stderr.write(`KILN_RUNTIME_MARKS ${JSON.stringify({ marks, cpu: process.cpuUsage() })}\n`);
}

let handler;
try {
  if (!RUNTIME_API) throw new Error("AWS_LAMBDA_RUNTIME_API is not set.");
  resolveFromLayers();
  handler = await loadHandler();
  performance.mark("runtime:handler-loaded");
} catch (error) {
  const body = errorBody(error);
  // Lambda logs the init error as well as reporting it.
  process.stdout.write(`${JSON.stringify({ level: "ERROR", phase: "init", error: JSON.parse(body) })}\n`);
  if (RUNTIME_API) {
    await call("POST", "/runtime/init/error", body, {
      "lambda-runtime-function-error-type": JSON.parse(body).errorType,
    }).catch(() => {});
  }
  process.exit(1);
}

for (;;) {
  const next = await call("GET", "/runtime/invocation/next");
  if (next.status !== 200) throw new Error(`The Runtime API answered ${next.status} to invocation/next.`);
  const requestId = String(next.headers["lambda-runtime-aws-request-id"]);
  const traceId = next.headers["lambda-runtime-trace-id"];
  if (typeof traceId === "string") process.env._X_AMZN_TRACE_ID = traceId;
  else delete process.env._X_AMZN_TRACE_ID;
  performance.mark(`runtime:invoke-start:${requestId}`);
  try {
    const result = await handler(JSON.parse(next.body), contextFor(next.headers));
    performance.mark(`runtime:invoke-end:${requestId}`);
    reportMarks();
    await call("POST", `/runtime/invocation/${requestId}/response`, JSON.stringify(result ?? null));
  } catch (error) {
    performance.mark(`runtime:invoke-end:${requestId}`);
    reportMarks();
    const body = errorBody(error);
    process.stdout.write(
      `${JSON.stringify({ level: "ERROR", requestId, phase: "invoke", error: JSON.parse(body) })}\n`,
    );
    await call("POST", `/runtime/invocation/${requestId}/error`, body, {
      "lambda-runtime-function-error-type": JSON.parse(body).errorType,
    });
  }
}
