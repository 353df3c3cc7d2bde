import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "../../core/errors.js";
import type { Job } from "../../core/job.js";
import { toJobView } from "../../core/job-view.js";
import type { ApiKeyStore, Clock, JobStore, Logger, RenderQueue, UrlSigner } from "../../core/ports.js";
import { LIMITS, parseOrThrow, RenderRequestSchema } from "../../core/render-request.js";
import { errorResponse, json } from "./http-response.js";

export interface ApiDeps {
  readonly jobs: JobStore;
  readonly queue: RenderQueue;
  readonly apiKeys: ApiKeyStore;
  readonly signer: UrlSigner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly newId?: () => string;
}

type Route = (
  tenant: string,
  event: APIGatewayProxyEvent,
  match: RegExpExecArray,
) => Promise<APIGatewayProxyResult>;

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function makeHandler(deps: ApiDeps) {
  const { jobs, queue, apiKeys, signer, clock, logger } = deps;
  const newId = deps.newId ?? randomUUID;

  const submitRender: Route = async (tenant, event) => {
    const request = parseOrThrow(RenderRequestSchema, readJsonBody(event));
    const now = clock.now().toISOString();
    const job: Job = {
      tenant,
      id: newId(),
      status: "queued",
      createdAt: now,
      updatedAt: now,
      attempts: 0,
      request,
    };
    await jobs.create(job);
    try {
      await queue.enqueue({ tenant, jobId: job.id });
    } catch (err) {
      // The job must not sit in `queued` with no message behind it: record why, and tell the caller.
      await jobs.markFailed(
        tenant,
        job.id,
        { code: "enqueue_failed", message: "The render queue was unavailable." },
        clock.now(),
      );
      logger.error("enqueue failed", { tenant, jobId: job.id, error: (err as Error).message });
      return json(
        503,
        {
          error: {
            code: "unavailable",
            message: "The render queue is unavailable; the job was not queued. Retry the request.",
          },
        },
        { "retry-after": "1" },
      );
    }
    logger.info("job queued", { tenant, jobId: job.id, format: request.output.format });
    return json(202, { id: job.id, status: job.status }, { location: `/v1/renders/${job.id}` });
  };

  const getRender: Route = async (tenant, _event, match) => {
    const id = match[1] ?? "";
    const job = JOB_ID.test(id) ? await jobs.get(tenant, id) : undefined;
    if (!job) throw new NotFoundError(`No render job ${id}.`);
    const [url] = job.output ? await signer.sign([job.output.key]) : [];
    return json(200, toJobView(job, url));
  };

  const routes: Array<{ path: RegExp; methods: Record<string, Route> }> = [
    { path: /^\/v1\/renders\/?$/, methods: { POST: submitRender } },
    { path: /^\/v1\/renders\/([^/]+)\/?$/, methods: { GET: getRender } },
  ];

  return async function apiHandler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const requestId = event.requestContext?.requestId ?? randomUUID();
    try {
      const route = routes.find((r) => r.path.test(event.path));
      if (!route) throw new NotFoundError(`No route for ${event.path}.`);
      const tenant = await authenticate(apiKeys, event);
      const method = route.methods[event.httpMethod];
      if (!method) throw new MethodNotAllowedError(`${event.httpMethod} is not allowed on ${event.path}.`);
      return await method(tenant, event, route.path.exec(event.path) as RegExpExecArray);
    } catch (err) {
      const { response, unexpected } = errorResponse(err, requestId);
      if (unexpected)
        logger.error("request failed", { requestId, path: event.path, error: (err as Error)?.message });
      return response;
    }
  };
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const entry = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === name);
  return entry?.[1] ?? undefined;
}

async function authenticate(apiKeys: ApiKeyStore, event: APIGatewayProxyEvent): Promise<string> {
  const key = header(event, "x-api-key");
  const tenant = key ? await apiKeys.tenantFor(key) : undefined;
  if (!tenant) throw new UnauthorizedError();
  return tenant;
}

function readJsonBody(event: APIGatewayProxyEvent): unknown {
  const contentType = header(event, "content-type");
  if (contentType && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new UnsupportedMediaTypeError(`Content-Type must be application/json, not ${contentType}.`);
  }
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64").toString("utf8")
    : (event.body ?? "");
  if (Buffer.byteLength(raw, "utf8") > LIMITS.requestBytes) {
    throw new PayloadTooLargeError(`The request body must be at most ${LIMITS.requestBytes} bytes.`);
  }
  if (raw.trim() === "")
    throw new ValidationError([{ field: "", message: "request body is empty; send a JSON object" }]);
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new ValidationError([
      { field: "", message: `request body is not valid JSON (${(err as Error).message})` },
    ]);
  }
}
