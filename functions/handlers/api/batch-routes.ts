import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  BATCHES,
  type Batch,
  type BatchQueue,
  type BatchStore,
  parseBatchSubmission,
  type RecordsSource,
  resolveBatchRecords,
  submitBatch,
  summarizeBatch,
} from "../../core/batches.js";
import { KilnError, NotFoundError, ValidationError } from "../../core/errors.js";
import type { Clock, IdempotencyStore, Logger, PayloadStore, UrlSigner } from "../../core/ports.js";
import { checkIdempotencyKey } from "../../core/submit-render.js";
import type { TemplateDeps } from "../../core/templates.js";
import { type CallbackUrlPolicy, callbackUrlProblem } from "../../core/webhooks.js";
import { json } from "./http-response.js";

export type BatchRoute = (
  tenant: string,
  event: APIGatewayProxyEvent,
  match: RegExpExecArray,
) => Promise<APIGatewayProxyResult>;

/** What the api function needs for batches; without it the batch routes answer 404. */
export interface BatchApiDeps {
  readonly store: BatchStore;
  readonly queue: BatchQueue;
  /** The tenant's assets, for `recordsKey`. */
  readonly records?: RecordsSource;
}

export interface BatchRouteDeps {
  readonly batches?: BatchApiDeps;
  readonly payloads: PayloadStore;
  readonly idempotency: IdempotencyStore;
  readonly signer: UrlSigner;
  readonly templates?: TemplateDeps;
  readonly callbackPolicy: CallbackUrlPolicy;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly newId: () => string;
  readonly readJsonBody: (event: APIGatewayProxyEvent) => unknown;
}

const BATCH_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A polling client may ask for a completion check this often; the fan-out also checks on its own. */
const CHECK_INTERVAL_MS = 2000;

/**
 * Batches:
 * - `POST /v1/batches` → 202 `{id, status, total}`, everything validated first (each bad record by index)
 * - `GET /v1/batches/{id}` → counts per job status, the overall status, and once complete a signed URL
 *   of the manifest (and of the zip when asked for)
 * - `GET /v1/batches/{id}/outputs?start=N` → up to 100 entries from index N with signed output URLs
 */
export function batchRoutes(
  deps: BatchRouteDeps,
): Array<{ path: RegExp; methods: Record<string, BatchRoute> }> {
  const { logger } = deps;
  const configured = (): BatchApiDeps => {
    if (!deps.batches) throw new NotFoundError("Batches are not configured on this Kiln.");
    return deps.batches;
  };
  const find = async (tenant: string, id: string): Promise<Batch> => {
    const batch = BATCH_ID.test(id) ? await configured().store.get(tenant, id) : undefined;
    if (!batch) throw new NotFoundError(`No batch ${id}.`);
    return batch;
  };

  const submit: BatchRoute = async (tenant, event) => {
    const batches = configured();
    const submission = parseBatchSubmission(deps.readJsonBody(event));
    const problem = submission.callbackUrl && callbackUrlProblem(submission.callbackUrl, deps.callbackPolicy);
    if (problem) throw new ValidationError([{ field: "callbackUrl", message: problem }]);
    const records = await resolveBatchRecords(
      {
        ...(deps.templates ? { templates: deps.templates } : {}),
        ...(batches.records ? { records: batches.records } : {}),
      },
      tenant,
      submission,
    );
    const rawKey = header(event, "idempotency-key");
    const key = rawKey === undefined ? undefined : checkIdempotencyKey(rawKey);
    let submitted: Awaited<ReturnType<typeof submitBatch>>;
    try {
      submitted = await submitBatch(
        { ...deps, batches: batches.store, queue: batches.queue },
        tenant,
        submission,
        records,
        key,
      );
    } catch (err) {
      if (err instanceof KilnError) throw err;
      // The batch record is written last: nothing visible exists, and a retry finishes or repeats it.
      logger.error("batch submit failed", { tenant, error: (err as Error).message });
      return json(
        503,
        {
          error: {
            code: "unavailable",
            message:
              "The batch could not be queued; no batch was created. Retry the request, with the same Idempotency-Key if you sent one.",
          },
        },
        { "retry-after": "1" },
      );
    }
    const { batch, replayed } = submitted;
    const headers: Record<string, string> = { location: `/v1/batches/${batch.id}` };
    if (replayed) headers["idempotent-replayed"] = "true";
    logger.info(replayed ? "batch replayed for its idempotency key" : "batch queued", {
      tenant,
      batchId: batch.id,
      total: batch.total,
    });
    return json(replayed ? 200 : 202, { id: batch.id, status: "queued", total: batch.total }, headers);
  };

  const getBatch: BatchRoute = async (tenant, _event, match) => {
    const batches = configured();
    const batch = await find(tenant, match[1] ?? "");
    const entries = await batches.store.listJobs(tenant, batch.id);
    const { counts, status, complete } = summarizeBatch(batch.total, entries);
    const zipSettled = !batch.zip || batch.zipKey !== undefined || batch.zipError !== undefined;
    if (complete && (!batch.manifestKey || !zipSettled)) {
      // The manifest and zip are written by the fan-out function; ask it now rather than at its next check.
      if (await batches.store.claim(tenant, batch.id, "check", deps.clock.now(), CHECK_INTERVAL_MS)) {
        await batches.queue.send([{ kind: "check", tenant, batchId: batch.id }]);
      }
    }
    const keys = [batch.manifestKey, batch.zipKey].filter((k): k is string => k !== undefined);
    const signed = keys.length > 0 ? await deps.signer.sign(keys) : [];
    const urlOf = (key: string | undefined) => signed.find((s) => s.key === key);
    const manifest = urlOf(batch.manifestKey);
    const zip = urlOf(batch.zipKey);
    return json(200, {
      id: batch.id,
      status,
      total: batch.total,
      createdAt: batch.createdAt,
      counts,
      ...(manifest
        ? { manifest: { url: manifest.url, expiresAt: manifest.expiresAt, entries: batch.total } }
        : {}),
      ...(batch.zip
        ? {
            zip: zip
              ? { state: "ready", url: zip.url, expiresAt: zip.expiresAt, bytes: batch.zipBytes }
              : batch.zipError
                ? { state: "failed", message: `No zip could be made: ${batch.zipError}.` }
                : { state: "pending" },
          }
        : {}),
    });
  };

  const listOutputs: BatchRoute = async (tenant, event, match) => {
    const batches = configured();
    const batch = await find(tenant, match[1] ?? "");
    const raw = event.queryStringParameters?.start ?? "0";
    if (!/^\d{1,9}$/.test(raw)) {
      throw new ValidationError([{ field: "start", message: "must be a record index (0, 1, …)" }]);
    }
    const start = Number(raw);
    const to = Math.min(batch.total, start + BATCHES.outputsPageSize) - 1;
    const entries =
      start < batch.total ? await batches.store.listJobs(tenant, batch.id, { from: start, to }) : [];
    const keys = [...new Set(entries.flatMap((e) => (e.output ? [e.output.key] : [])))];
    const signed = keys.length > 0 ? await deps.signer.sign(keys) : [];
    const byKey = new Map(signed.map((s) => [s.key, s]));
    return json(200, {
      items: entries.map((e) => {
        const url = e.output ? byKey.get(e.output.key) : undefined;
        return {
          index: e.index,
          jobId: e.jobId,
          status: e.status,
          ...(e.output && url
            ? {
                output: {
                  url: url.url,
                  expiresAt: url.expiresAt,
                  contentType: e.output.contentType,
                  bytes: e.output.bytes,
                  sha256: e.output.sha256,
                },
              }
            : {}),
          ...(e.error ? { error: e.error } : {}),
        };
      }),
      ...(to + 1 < batch.total ? { next: to + 1 } : {}),
    });
  };

  return [
    { path: /^\/v1\/batches\/?$/, methods: { POST: submit } },
    { path: /^\/v1\/batches\/([^/]+)\/?$/, methods: { GET: getBatch } },
    { path: /^\/v1\/batches\/([^/]+)\/outputs\/?$/, methods: { GET: listOutputs } },
  ];
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const entry = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === name);
  return entry?.[1] ?? undefined;
}
