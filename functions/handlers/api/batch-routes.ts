import {
  BATCHES,
  type Batch,
  type BatchQueue,
  type BatchStore,
  mergedSettled,
  type RecordsSource,
  resolveBatchRecords,
  submitBatch,
  summarizeBatch,
  zipSettled,
} from "../../core/batches.js";
import { KilnError, NotFoundError, noSuch, ValidationError } from "../../core/errors.js";
import { checkIdempotencyKey } from "../../core/submit-render.js";
import { callbackUrlProblem } from "../../core/webhooks.js";
import type { RouteDeps } from "./handler.js";
import { json } from "./http-response.js";
import { isResourceId } from "./operations.js";
import { header, type OperationHandlers } from "./request.js";

/** What the api function needs for batches; without it the batch routes answer 404. */
export interface BatchApiDeps {
  readonly store: BatchStore;
  readonly queue: BatchQueue;
  /** The tenant's assets, for `recordsKey`. */
  readonly records?: RecordsSource;
}

/** A polling client may ask for a completion check this often; the fan-out also checks on its own. */
const CHECK_INTERVAL_MS = 2000;

function batchesOf(deps: RouteDeps): BatchApiDeps {
  if (!deps.batches) throw new NotFoundError("Batches are not configured on this Kiln.");
  return deps.batches;
}

async function findBatch(deps: RouteDeps, tenant: string, id: string): Promise<Batch> {
  const wellFormed = isResourceId(id);
  const batch = wellFormed ? await batchesOf(deps).store.get(tenant, id) : undefined;
  if (!batch) throw noSuch("batch", id, wellFormed);
  return batch;
}

/** Batches: one template and output, rendered once per data record. */
export const batchHandlers: Pick<OperationHandlers, "submitBatch" | "getBatch" | "getBatchOutputs"> = {
  async submitBatch({ tenant, event, body: submission }, deps) {
    const batches = batchesOf(deps);
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
      deps.logger.error("batch submit failed", { tenant, error: (err as Error).message });
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
    deps.logger.info(replayed ? "batch replayed for its idempotency key" : "batch queued", {
      tenant,
      batchId: batch.id,
      total: batch.total,
    });
    return json(replayed ? 200 : 202, { id: batch.id, status: "queued", total: batch.total }, headers);
  },

  async getBatch({ tenant, params }, deps) {
    const batches = batchesOf(deps);
    const batch = await findBatch(deps, tenant, params.id);
    const entries = await batches.store.listJobs(tenant, batch.id);
    const { counts, status, complete } = summarizeBatch(batch.total, entries);
    if (complete && (!batch.manifestKey || !zipSettled(batch) || !mergedSettled(batch))) {
      // The manifest, zip and merged PDF are written by the fan-out function; ask it now rather than at its next check.
      if (await batches.store.claim(tenant, batch.id, "check", deps.clock.now(), CHECK_INTERVAL_MS)) {
        await batches.queue.send([{ kind: "check", tenant, batchId: batch.id }]);
      }
    }
    const keys = [batch.manifestKey, batch.zipKey, batch.mergedKey].filter(
      (k): k is string => k !== undefined,
    );
    const signed = keys.length > 0 ? await deps.signer.sign(tenant, keys) : [];
    const urlOf = (key: string | undefined) => signed.find((s) => s.key === key);
    const manifest = urlOf(batch.manifestKey);
    const state = (key: string | undefined, bytes: number | undefined, error: string | undefined) => {
      const signedUrl = urlOf(key);
      return signedUrl
        ? { state: "ready", url: signedUrl.url, expiresAt: signedUrl.expiresAt, bytes }
        : error
          ? { state: "failed", message: error }
          : { state: "pending" };
    };
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
            zip: state(
              batch.zipKey,
              batch.zipBytes,
              batch.zipError && `No zip could be made: ${batch.zipError}.`,
            ),
          }
        : {}),
      ...(batch.mergePdf
        ? {
            mergedPdf: state(
              batch.mergedKey,
              batch.mergedBytes,
              batch.mergedError && `No merged PDF could be made: ${batch.mergedError}`,
            ),
          }
        : {}),
    });
  },

  async getBatchOutputs({ tenant, event, params }, deps) {
    const batches = batchesOf(deps);
    const batch = await findBatch(deps, tenant, params.id);
    const raw = event.queryStringParameters?.start ?? "0";
    if (!/^\d{1,9}$/.test(raw)) {
      throw new ValidationError([{ field: "start", message: "must be a record index (0, 1, …)" }]);
    }
    const start = Number(raw);
    const to = Math.min(batch.total, start + BATCHES.outputsPageSize) - 1;
    const entries =
      start < batch.total ? await batches.store.listJobs(tenant, batch.id, { from: start, to }) : [];
    const keys = [...new Set(entries.flatMap((e) => (e.output ? [e.output.key] : [])))];
    const signed = keys.length > 0 ? await deps.signer.sign(tenant, keys) : [];
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
  },
};
