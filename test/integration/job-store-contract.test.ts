import { randomBytes, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DecryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ASSUMPTIONS, readUnits, requestItemSize, writeUnits } from "../../bin/cost/cost-model.js";
import { DynamoDbBatchStore } from "../../functions/adapters/aws/dynamodb-batch-store.js";
import { DynamoDbIdempotencyStore } from "../../functions/adapters/aws/dynamodb-idempotency-store.js";
import { DynamoDbJobStore } from "../../functions/adapters/aws/dynamodb-job-store.js";
import { DynamoDbRenderCache } from "../../functions/adapters/aws/dynamodb-render-cache.js";
import { DynamoDbTenantSettingsStore } from "../../functions/adapters/aws/dynamodb-tenant-settings-store.js";
import { DynamoDbWebhookSecretStore } from "../../functions/adapters/aws/dynamodb-webhook-secret-store.js";
import {
  batchItemKey,
  idempotencyItemKey,
  jobItemKey,
  jobRequestItemKey,
  retentionExpiry,
  webhookSecretItemKey,
} from "../../functions/adapters/aws/jobs-table.js";
import { KmsSecretCipher } from "../../functions/adapters/aws/kms-secret-cipher.js";
import {
  MemoryIdempotencyStore,
  MemoryJobStore,
  MemoryWebhookSecretStore,
} from "../../functions/adapters/memory/memory-ports.js";
import type { Job } from "../../functions/core/job.js";
import type { IdempotencyStore, JobStore, WebhookSecretStore } from "../../functions/core/ports.js";
import { inputDigests, provenanceOf } from "../../functions/core/render-cache.js";
import { type RenderRequest, RenderRequestSchema } from "../../functions/core/render-request.js";
import { RENDERER } from "../../functions/core/renderer-identity.js";
import { requestFingerprint } from "../../functions/core/submit-render.js";
import { generateWebhookSecret, signingSecrets } from "../../functions/core/webhooks.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { type KmsStandIn, startKmsStandIn } from "../../functions/local/kms-stand-in.js";
import { ensureJobsTable } from "../../functions/local/resources.js";
import { type StandIn, startDynamoDbStandIn } from "../../functions/local/stand-ins.js";

/**
 * One contract, two implementations: the DynamoDB stores against dynalite (real wire protocol) and
 * the memory fakes the unit tests use. If the fakes drift from DynamoDB, this fails.
 */
let dynalite: StandIn;
let client: DynamoDBClient;
let kmsStandIn: KmsStandIn;
let kms: KMSClient;
const SECRETS_KEY = "alias/contract-secrets";
beforeAll(async () => {
  dynalite = await startDynamoDbStandIn({ port: 0 });
  client = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await ensureJobsTable(client, "contract");
  kmsStandIn = await startKmsStandIn(new Map([[SECRETS_KEY, randomBytes(32)]]));
  kms = new KMSClient(localClientConfig(kmsStandIn.endpoint));
});
afterAll(async () => {
  client?.destroy();
  kms?.destroy();
  await dynalite?.stop();
  await kmsStandIn?.stop();
});

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (ms: number) => new Date(T0 + ms);
let counter = 0;

function newJob(overrides: Partial<Job> = {}): Job {
  counter += 1;
  return {
    tenant: "acme",
    id: `job-${counter}`,
    status: "queued",
    createdAt: at(0).toISOString(),
    updatedAt: at(0).toISOString(),
    attempts: 0,
    request: {
      template: { html: "<p>{{ n }}</p>" },
      data: { n: counter, nested: { b: 1, a: [1, "2"] } },
      output: { format: "png", width: 10, height: 10, scale: 1 },
    },
    ...overrides,
  };
}

const output = { key: "outputs/acme/s.png", contentType: "image/png", bytes: 3, sha256: "s" };

const implementations: Array<
  [string, () => { jobs: JobStore; idem: IdempotencyStore; secrets: WebhookSecretStore }]
> = [
  [
    "DynamoDB (dynalite)",
    () => ({
      jobs: new DynamoDbJobStore(client, "contract"),
      idem: new DynamoDbIdempotencyStore(client, "contract"),
      secrets: new DynamoDbWebhookSecretStore(client, "contract", new KmsSecretCipher(kms, SECRETS_KEY)),
    }),
  ],
  [
    "memory",
    () => ({
      jobs: new MemoryJobStore(),
      idem: new MemoryIdempotencyStore(),
      secrets: new MemoryWebhookSecretStore(),
    }),
  ],
];

describe.each(implementations)("job store contract: %s", (_name, make) => {
  it("creates once, keeps the request apart and reads it back byte-for-byte, answers exists for a repeat", async () => {
    const { jobs } = make();
    const { request, ...record } = newJob({ callbackUrl: "https://h.example.com/x" });
    if (!request) throw new Error("newJob carries a request");
    expect(await jobs.create({ ...record, request })).toBe("created");
    // A repeat carries the same request for the same id; the first one stored is kept regardless.
    expect(await jobs.create({ ...record, request: { ...request, data: { other: 1 } } })).toBe("exists");
    expect(await jobs.get("acme", record.id)).toEqual(record);
    expect(JSON.stringify(await jobs.getRequest("acme", record.id))).toBe(JSON.stringify(request));
    expect(await jobs.get("other-tenant", record.id)).toBeUndefined();
    expect(await jobs.getRequest("other-tenant", record.id)).toBeUndefined();
    // State changes answer with the record, without the request.
    const started = await jobs.startAttempt("acme", record.id, { owner: "a", expiresAtMs: T0 + 1 }, at(0));
    expect(started.kind === "started" && started.job.request).toBeUndefined();
  });

  it("stores a request ahead of its record, once: the first is kept, and the record is created without one", async () => {
    const { jobs } = make();
    const { request, ...record } = newJob();
    if (!request) throw new Error("newJob carries a request");
    await jobs.storeRequest("acme", record.id, request, record.createdAt);
    expect(await jobs.get("acme", record.id)).toBeUndefined();
    await jobs.storeRequest("acme", record.id, { ...request, data: { other: 1 } }, record.createdAt);
    expect(await jobs.create(record)).toBe("created");
    expect(await jobs.get("acme", record.id)).toEqual(record);
    expect(JSON.stringify(await jobs.getRequest("acme", record.id))).toBe(JSON.stringify(request));
  });

  it("replaces a stored request with its redacted form, and stores none where there was none", async () => {
    const { jobs } = make();
    const { request, ...record } = newJob();
    if (!request) throw new Error("newJob carries a request");
    expect(await jobs.create({ ...record, request })).toBe("created");
    const redacted = { ...request, data: { password: "[redacted]" } };
    await jobs.redactRequest("acme", record.id, redacted);
    expect(JSON.stringify(await jobs.getRequest("acme", record.id))).toBe(JSON.stringify(redacted));
    expect(await jobs.get("acme", record.id)).toEqual(record);
    await jobs.redactRequest("acme", "no-such-job", redacted);
    expect(await jobs.getRequest("acme", "no-such-job")).toBeUndefined();
  });

  it("stores no request for a job whose request is in the payload store", async () => {
    const { jobs } = make();
    const { request: _, ...job } = newJob({ payloadKey: "requests/acme/large.json" });
    expect(await jobs.create(job)).toBe("created");
    expect(await jobs.get("acme", job.id)).toEqual(job);
    expect(await jobs.getRequest("acme", job.id)).toBeUndefined();
    expect(await jobs.getRequest("acme", "no-such-job")).toBeUndefined();
  });

  it("starts one attempt at a time: a live lease refuses, an expired one is taken over, a repeat finds its own", async () => {
    const { jobs } = make();
    const job = newJob();
    await jobs.create(job);
    expect(await jobs.startAttempt("acme", "nope", { owner: "a", expiresAtMs: T0 + 1000 }, at(0))).toEqual({
      kind: "missing",
    });
    // The conditional update did not create the item it did not find.
    expect(await jobs.get("acme", "nope")).toBeUndefined();
    const a = await jobs.startAttempt("acme", job.id, { owner: "a", expiresAtMs: T0 + 1000 }, at(0));
    expect(a.kind).toBe("started");
    expect(a.kind === "started" && a.job).toMatchObject({
      status: "rendering",
      attempts: 1,
      lease: { owner: "a" },
    });
    // The same attempt again (its first call applied but reported an error): still its own, counted once.
    const again = await jobs.startAttempt("acme", job.id, { owner: "a", expiresAtMs: T0 + 1000 }, at(10));
    expect(again.kind === "started" && again.job.attempts).toBe(1);

    const b = await jobs.startAttempt("acme", job.id, { owner: "b", expiresAtMs: T0 + 2000 }, at(999));
    expect(b.kind).toBe("leased");
    expect(b.kind === "leased" && b.job.lease).toEqual({ owner: "a", expiresAtMs: T0 + 1000 });

    const c = await jobs.startAttempt("acme", job.id, { owner: "c", expiresAtMs: T0 + 3000 }, at(1000));
    expect(c.kind === "started" && c.job).toMatchObject({
      attempts: 2,
      lease: { owner: "c", expiresAtMs: T0 + 3000 },
    });
    // a lost the lease: it can neither renew nor succeed.
    expect(await jobs.renewLease("acme", job.id, { owner: "a", expiresAtMs: T0 + 9000 }, at(1001))).toBe(
      false,
    );
    const lost = await jobs.markSucceeded("acme", job.id, "a", output, at(1002), false);
    expect(lost.applied).toBe(false);
    expect(lost.job?.status).toBe("rendering");
    expect(await jobs.renewLease("acme", job.id, { owner: "c", expiresAtMs: T0 + 9000 }, at(1003))).toBe(
      true,
    );
    const won = await jobs.markSucceeded("acme", job.id, "c", output, at(1004), true);
    expect(won.applied).toBe(true);
    expect(won.job).toMatchObject({
      status: "succeeded",
      output,
      webhook: { state: "pending", attempts: [] },
    });
    expect(won.job?.lease).toBeUndefined();
    // A repeat of the winning write does not apply again, and shows the job as the winner left it.
    const repeat = await jobs.markSucceeded("acme", job.id, "c", output, at(1005), true);
    expect(repeat).toMatchObject({ applied: false, job: { status: "succeeded", output } });
    const terminal = await jobs.startAttempt(
      "acme",
      job.id,
      { owner: "d", expiresAtMs: T0 + 9999 },
      at(5000),
    );
    expect(terminal.kind).toBe("terminal");
  });

  it("releases a lease with the reason, and fails only by the holder or once no lease is live", async () => {
    const { jobs } = make();
    const job = newJob();
    await jobs.create(job);
    await jobs.startAttempt("acme", job.id, { owner: "a", expiresAtMs: T0 + 1000 }, at(0));
    const reason = { code: "transient_error", message: "Target closed" };
    expect(await jobs.releaseLease("acme", job.id, "x", reason, at(1))).toBe(false);
    expect(await jobs.releaseLease("acme", job.id, "a", reason, at(1))).toBe(true);
    const released = await jobs.get("acme", job.id);
    expect(released).toMatchObject({ status: "rendering", lastError: reason });
    expect(released?.lease).toBeUndefined();

    await jobs.startAttempt("acme", job.id, { owner: "b", expiresAtMs: T0 + 5000 }, at(2));
    const failure = { code: "render_failed", message: "gave up" };
    expect(
      (await jobs.markFailed("acme", job.id, failure, at(3), { leaseExpiredAtMs: T0 + 3 }, false)).applied,
    ).toBe(false);
    expect((await jobs.markFailed("acme", job.id, failure, at(4), { owner: "a" }, false)).applied).toBe(
      false,
    );
    const settled = await jobs.markFailed(
      "acme",
      job.id,
      failure,
      at(5000),
      { leaseExpiredAtMs: T0 + 5000 },
      false,
    );
    expect(settled.applied).toBe(true);
    expect(settled.job).toMatchObject({ status: "failed", error: failure, attempts: 2 });
    expect(settled.job?.webhook).toBeUndefined();

    const queued = newJob();
    await jobs.create(queued);
    expect(
      (await jobs.markFailed("acme", queued.id, failure, at(0), { leaseExpiredAtMs: T0 }, true)).job,
    ).toMatchObject({ status: "failed", webhook: { state: "pending" } });
  });

  it("marks a job's final delivery unless it is terminal; the holder can no longer release it, only end it", async () => {
    const { jobs } = make();
    const job = newJob();
    await jobs.create(job);
    await jobs.startAttempt("acme", job.id, { owner: "a", expiresAtMs: T0 + 5000 }, at(0));
    const marked = await jobs.markFinalDelivery("acme", job.id, at(10));
    expect(marked).toMatchObject({
      applied: true,
      job: { status: "rendering", lease: { owner: "a" }, finalDeliveryAt: at(10).toISOString() },
    });
    // A second final delivery (a duplicate message's) keeps the first instant.
    expect((await jobs.markFinalDelivery("acme", job.id, at(20))).job?.finalDeliveryAt).toBe(
      at(10).toISOString(),
    );
    expect(await jobs.get("acme", job.id)).toMatchObject({ finalDeliveryAt: at(10).toISOString() });

    const reason = { code: "transient_error", message: "Target closed" };
    expect(await jobs.releaseLease("acme", job.id, "a", reason, at(30))).toBe(false);
    expect((await jobs.get("acme", job.id))?.lease).toEqual({ owner: "a", expiresAtMs: T0 + 5000 });
    const failure = { code: "render_failed", message: "Rendering failed after 1 attempts: Target closed" };
    const failed = await jobs.markFailed("acme", job.id, failure, at(40), { owner: "a" }, false);
    expect(failed).toMatchObject({ applied: true, job: { status: "failed", error: failure } });
    expect(await jobs.markFinalDelivery("acme", job.id, at(50))).toMatchObject({
      applied: false,
      job: { status: "failed" },
    });

    // A marked job still succeeds by its holder; a queued one can be marked; a missing one is not created.
    const other = newJob();
    await jobs.create(other);
    expect((await jobs.markFinalDelivery("acme", other.id, at(0))).job).toMatchObject({
      status: "queued",
      finalDeliveryAt: at(0).toISOString(),
    });
    await jobs.startAttempt("acme", other.id, { owner: "b", expiresAtMs: T0 + 5000 }, at(1));
    expect((await jobs.markSucceeded("acme", other.id, "b", output, at(2), false)).applied).toBe(true);
    expect(await jobs.markFinalDelivery("acme", "no-such-job", at(0))).toEqual({ applied: false });
    expect(await jobs.get("acme", "no-such-job")).toBeUndefined();
  });

  it("finds the unfinished jobs past either cutoff, and no terminal or recent one", async () => {
    const { jobs } = make();
    const tenant = `reconcile-${randomUUID()}`;
    const mk = (overrides: Partial<Job>) => newJob({ tenant, ...overrides });
    const old = mk({ updatedAt: at(0).toISOString() });
    const recent = mk({ createdAt: at(50_000).toISOString(), updatedAt: at(50_000).toISOString() });
    const finalDelivered = mk({ createdAt: at(50_000).toISOString(), updatedAt: at(50_000).toISOString() });
    const done = mk({ updatedAt: at(0).toISOString() });
    for (const job of [old, recent, finalDelivered, done]) await jobs.create(job);
    await jobs.startAttempt(tenant, finalDelivered.id, { owner: "a", expiresAtMs: T0 + 51_000 }, at(50_000));
    await jobs.markFinalDelivery(tenant, finalDelivered.id, at(55_000));
    await jobs.startAttempt(tenant, done.id, { owner: "b", expiresAtMs: T0 + 1000 }, at(0));
    await jobs.markSucceeded(tenant, done.id, "b", output, at(0), false);

    const found = async (updatedBefore: number, finalDeliveryBefore: number) => {
      const ids: string[] = [];
      const cutoffs = { updatedBefore: at(updatedBefore), finalDeliveryBefore: at(finalDeliveryBefore) };
      for await (const job of jobs.findUnfinished(cutoffs)) if (job.tenant === tenant) ids.push(job.id);
      return ids.sort();
    };
    // Past the idle cutoff: only the old queued job (the succeeded one is terminal).
    expect(await found(10_000, 0)).toEqual([old.id]);
    // Past the final-delivery cutoff too: the job whose message had its final delivery, as stored.
    expect(await found(10_000, 60_000)).toEqual([old.id, finalDelivered.id].sort());
    expect(await found(100_000, 0)).toEqual([old.id, recent.id, finalDelivered.id].sort());
    for await (const job of jobs.findUnfinished({
      updatedBefore: at(10_000),
      finalDeliveryBefore: at(60_000),
    })) {
      if (job.id === finalDelivered.id)
        expect(job).toMatchObject({ status: "rendering", finalDeliveryAt: at(55_000).toISOString() });
    }
  });

  it("marks a queued job re-enqueued once, only as it was read", async () => {
    const { jobs } = make();
    const job = newJob();
    await jobs.create(job);
    expect((await jobs.markRequeued("acme", job.id, at(1).toISOString(), at(10))).applied).toBe(false);
    const first = await jobs.markRequeued("acme", job.id, job.updatedAt, at(10));
    expect(first.applied).toBe(true);
    expect(first.job).toMatchObject({
      status: "queued",
      requeuedAt: at(10).toISOString(),
      updatedAt: at(10).toISOString(),
    });
    expect(await jobs.get("acme", job.id)).toMatchObject({ requeuedAt: at(10).toISOString() });
    // Never twice, even by a caller that read the record after the first mark.
    const again = await jobs.markRequeued("acme", job.id, at(10).toISOString(), at(20));
    expect(again).toMatchObject({ applied: false, job: { requeuedAt: at(10).toISOString() } });
    // Not a job that started meanwhile, nor one that does not exist (and it creates none).
    const started = newJob();
    await jobs.create(started);
    await jobs.startAttempt("acme", started.id, { owner: "a", expiresAtMs: T0 + 1 }, at(0));
    expect((await jobs.markRequeued("acme", started.id, at(0).toISOString(), at(10))).applied).toBe(false);
    expect(await jobs.markRequeued("acme", "no-such-job", at(0).toISOString(), at(10))).toEqual({
      applied: false,
    });
    expect(await jobs.get("acme", "no-such-job")).toBeUndefined();
  });

  it("fails a job whose lease expired only while it is unchanged since it was read", async () => {
    const { jobs } = make();
    const job = newJob();
    await jobs.create(job);
    await jobs.startAttempt("acme", job.id, { owner: "a", expiresAtMs: T0 + 1000 }, at(0));
    const failure = { code: "stuck", message: "no delivery left" };
    const seen = at(0).toISOString();
    // A record that moved on since (a new attempt) is left alone.
    await jobs.startAttempt("acme", job.id, { owner: "b", expiresAtMs: T0 + 3000 }, at(2000));
    const stale = await jobs.markFailed(
      "acme",
      job.id,
      failure,
      at(5000),
      { leaseExpiredAtMs: T0 + 5000, unchangedSince: seen },
      false,
    );
    expect(stale.applied).toBe(false);
    expect(stale.job).toMatchObject({ status: "rendering", attempts: 2 });
    const current = at(2000).toISOString();
    // A live lease refuses even with the record unchanged.
    expect(
      (
        await jobs.markFailed(
          "acme",
          job.id,
          failure,
          at(2500),
          { leaseExpiredAtMs: T0 + 2500, unchangedSince: current },
          false,
        )
      ).applied,
    ).toBe(false);
    const failed = await jobs.markFailed(
      "acme",
      job.id,
      failure,
      at(5000),
      { leaseExpiredAtMs: T0 + 5000, unchangedSince: current },
      true,
    );
    expect(failed.applied).toBe(true);
    expect(failed.job).toMatchObject({
      status: "failed",
      error: failure,
      webhook: { state: "pending", attempts: [] },
    });
    // Never twice.
    expect(
      (
        await jobs.markFailed(
          "acme",
          job.id,
          failure,
          at(6000),
          { leaseExpiredAtMs: T0 + 6000, unchangedSince: current },
          true,
        )
      ).applied,
    ).toBe(false);
  });

  it("appends webhook attempts in order and keeps the state", async () => {
    const { jobs } = make();
    const job = newJob({ callbackUrl: "https://h.example.com/x" });
    await jobs.create(job);
    const first = { attempt: 1, at: at(0).toISOString(), status: 500, error: "HTTP 500", durationMs: 12 };
    await jobs.recordWebhook("acme", job.id, {
      attempt: first,
      state: "retrying",
      nextAttemptAt: at(5000).toISOString(),
    });
    const second = { attempt: 2, at: at(5000).toISOString(), status: 204, durationMs: 8 };
    await jobs.recordWebhook("acme", job.id, { attempt: second, state: "delivered" });
    // A repeat of a call that had applied (its answer was lost) appends nothing.
    await jobs.recordWebhook("acme", job.id, { attempt: second, state: "delivered" });
    expect((await jobs.get("acme", job.id))?.webhook).toEqual({
      state: "delivered",
      attempts: [first, second],
    });
    await expect(jobs.recordWebhook("acme", "missing", { state: "failed" })).rejects.toThrow();
  });

  it("claims an idempotency key once, per tenant, until it expires", async () => {
    const { idem } = make();
    const key = `key-${++counter}`;
    const record = {
      key,
      fingerprint: "f1",
      jobId: "j-a",
      createdAt: at(0).toISOString(),
      expiresAtMs: T0 + 1000,
    };
    expect(await idem.claim("acme", record, at(0))).toEqual({ record, claimed: true });
    const second = { ...record, fingerprint: "f2", jobId: "j-b" };
    expect(await idem.claim("acme", second, at(999))).toEqual({ record, claimed: false });
    expect((await idem.claim("globex", second, at(999))).claimed).toBe(true);
    // Expired records are not deleted (dynalite has no TTL); the claim replaces them.
    const later = { ...second, expiresAtMs: T0 + 5000 };
    expect(await idem.claim("acme", later, at(1000))).toEqual({ record: later, claimed: true });
  });

  it("creates one webhook secret per tenant and returns it every time", async () => {
    const { secrets } = make();
    const tenant = `tenant-${++counter}`;
    const [a, b] = await Promise.all([secrets.getOrCreate(tenant), secrets.getOrCreate(tenant)]);
    expect(a).toEqual({ current: expect.stringMatching(/^whsec_/) });
    expect(b).toEqual(a);
    expect(await secrets.getOrCreate(tenant)).toEqual(a);
  });

  it("rotates a webhook secret: the replaced one is kept as previous until the overlap ends, an older one dropped", async () => {
    const { secrets } = make();
    const tenant = `tenant-${++counter}`;
    const { current: first } = await secrets.getOrCreate(tenant);
    const rotated = await secrets.rotate(tenant, at(0), 60);
    expect(rotated).toEqual({
      current: expect.stringMatching(/^whsec_/),
      previous: { secret: first, expiresAt: at(60_000).toISOString() },
    });
    expect(rotated.current).not.toBe(first);
    expect(await secrets.getOrCreate(tenant)).toEqual(rotated);
    const again = await secrets.rotate(tenant, at(1000), 60);
    expect(again.previous?.secret).toBe(rotated.current);
    const revoked = await secrets.rotate(tenant, at(2000), 0);
    expect(revoked).toEqual({ current: expect.any(String) });
    expect(revoked.current).not.toBe(again.current);
    // A tenant's first rotation has nothing to keep.
    expect(await secrets.rotate(`tenant-${++counter}`, at(0), 60)).toEqual({ current: expect.any(String) });
  });
});

describe("webhook secrets in DynamoDB (dynalite), encrypted with KMS (stand-in)", () => {
  const store = () =>
    new DynamoDbWebhookSecretStore(client, "contract", new KmsSecretCipher(kms, SECRETS_KEY));
  const db = () => DynamoDBDocumentClient.from(client);
  const itemOf = async (tenant: string) =>
    (await db().send(new GetCommand({ TableName: "contract", Key: webhookSecretItemKey(tenant) }))).Item;

  it("keeps no secret in plain text: the item holds ciphertexts that decrypt only under their tenant", async () => {
    const tenant = `tenant-${++counter}`;
    const { current: first } = await store().getOrCreate(tenant);
    const { current: second } = await store().rotate(tenant, at(0), 3600);
    const item = await itemOf(tenant);
    const stored = JSON.stringify(item, (_k, v) =>
      v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v,
    );
    for (const secret of [first, second]) {
      expect(stored).not.toContain(secret);
      expect(stored).not.toContain(secret.slice("whsec_".length));
      expect(stored).not.toContain(Buffer.from(secret.slice("whsec_".length), "base64").toString("latin1"));
    }
    expect(item).not.toHaveProperty("secret");
    expect(item?.current.ciphertext).toBeInstanceOf(Uint8Array);
    const decrypt = (ciphertext: Uint8Array, owner: string) =>
      kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { tenant: owner } }));
    const plain = await decrypt(item?.current.ciphertext, tenant);
    expect(Buffer.from(plain.Plaintext ?? new Uint8Array()).toString("utf8")).toBe(second);
    await expect(decrypt(item?.current.ciphertext, "other-tenant")).rejects.toThrow(
      expect.objectContaining({ name: "InvalidCiphertextException" }),
    );
    // A ciphertext copied into another tenant's item does not open there.
    await db().send(
      new PutCommand({ TableName: "contract", Item: { ...item, ...webhookSecretItemKey("thief") } }),
    );
    await expect(store().getOrCreate("thief")).rejects.toThrow(
      expect.objectContaining({ name: "InvalidCiphertextException" }),
    );
  });

  it("reads a secret stored in plain text before encryption, and encrypts it in place on that read", async () => {
    const tenant = `tenant-${++counter}`;
    const legacy = generateWebhookSecret();
    await db().send(
      new PutCommand({
        TableName: "contract",
        Item: { ...webhookSecretItemKey(tenant), secret: legacy, createdAt: at(0).toISOString() },
      }),
    );
    expect(await store().getOrCreate(tenant)).toEqual({ current: legacy });
    const item = await itemOf(tenant);
    expect(item).not.toHaveProperty("secret");
    expect(item?.current.ciphertext).toBeInstanceOf(Uint8Array);
    expect(await store().getOrCreate(tenant)).toEqual({ current: legacy });
  });

  it("rotates a plain-text secret into an encrypted previous one", async () => {
    const tenant = `tenant-${++counter}`;
    const legacy = generateWebhookSecret();
    await db().send(
      new PutCommand({ TableName: "contract", Item: { ...webhookSecretItemKey(tenant), secret: legacy } }),
    );
    const rotated = await store().rotate(tenant, at(0), 60);
    expect(signingSecrets(rotated, at(59_000))).toEqual([rotated.current, legacy]);
    expect(JSON.stringify(await itemOf(tenant))).not.toContain(legacy);
  });

  it("refuses the second of two rotations at once, so no caller is handed a secret that was already replaced", async () => {
    const tenant = `tenant-${++counter}`;
    await store().getOrCreate(tenant);
    const results = await Promise.allSettled([
      store().rotate(tenant, at(0), 60),
      store().rotate(tenant, at(0), 60),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toEqual([
      expect.objectContaining({ reason: expect.objectContaining({ code: "rotation_in_progress" }) }),
    ]);
    expect((await store().getOrCreate(tenant)).current).toBe(
      won[0]?.status === "fulfilled" && won[0].value.current,
    );
  });
});

describe("job items in DynamoDB (dynalite)", () => {
  const ITEM_COMMANDS = /^(PutItem|UpdateItem|GetItem|BatchGetItem|Query)Command$/;
  let metered: DynamoDBClient;
  let units: Array<[command: string, units: number]> = [];
  let invoice: RenderRequest;
  beforeAll(async () => {
    // The stand-in reports the capacity each call consumes, from item sizes as DynamoDB counts them.
    metered = new DynamoDBClient(localClientConfig(dynalite.endpoint));
    metered.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        if (ITEM_COMMANDS.test(command))
          (args.input as Record<string, unknown>).ReturnConsumedCapacity = "TOTAL";
        const result = await next(args);
        type Consumed = { CapacityUnits?: number };
        const consumed = (result.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity;
        // BatchGetItem reports a list, one entry per table.
        const total = Array.isArray(consumed)
          ? consumed.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0)
          : consumed?.CapacityUnits;
        if (total !== undefined) units.push([command.replace(/Command$/, ""), total]);
        return result;
      },
      { step: "initialize" },
    );
    const body = JSON.parse(await readFile("examples/invoice/job.png.json", "utf8")) as unknown;
    invoice = RenderRequestSchema.parse(body);
  });
  afterAll(() => metered?.destroy());

  it("keeps a job in the open-jobs index only while it is unfinished, and finds nothing outside it", async () => {
    const db = DynamoDBDocumentClient.from(client);
    const jobs = new DynamoDbJobStore(client, "contract");
    const tenant = `open-${randomUUID()}`;
    const rawJob = async (id: string) =>
      (
        await db.send(
          new GetCommand({ TableName: "contract", Key: jobItemKey(tenant, id), ConsistentRead: true }),
        )
      ).Item;
    const open = newJob({ tenant });
    const done = newJob({ tenant });
    await jobs.create(open);
    await jobs.create(done);
    expect((await rawJob(open.id))?.openShard).toMatch(/^OPEN#\d+$/);
    await jobs.startAttempt(tenant, done.id, { owner: "a", expiresAtMs: T0 + 1 }, at(0));
    await jobs.markFailed(tenant, done.id, { code: "x", message: "y" }, at(0), { owner: "a" }, false);
    expect((await rawJob(done.id))?.openShard).toBeUndefined();
    // A job item without the index key (stored before the index existed) is not found.
    const legacy = newJob({ tenant });
    await jobs.create(legacy);
    await db.send(
      new UpdateCommand({
        TableName: "contract",
        Key: jobItemKey(tenant, legacy.id),
        UpdateExpression: "REMOVE openShard",
      }),
    );
    const found: string[] = [];
    for await (const job of jobs.findUnfinished({ updatedBefore: at(1), finalDeliveryBefore: at(1) })) {
      if (job.tenant === tenant) found.push(job.id);
    }
    expect(found).toEqual([open.id]);
  });

  it("keeps the invoice request out of the job item: its writes are the units the cost model counts", async () => {
    const jobs = new DynamoDbJobStore(metered, "contract");
    const id = randomUUID();
    const created = new Date().toISOString();
    // As the api creates it: looked up in the render cache, with what it knows of the inputs.
    const job: Job = {
      tenant: "acme",
      id,
      status: "queued",
      createdAt: created,
      updatedAt: created,
      attempts: 0,
      request: invoice,
      correlationId: randomUUID(),
      cache: { state: "miss" },
      provenance: provenanceOf(inputDigests(invoice, undefined, {}), RENDERER),
    };
    units = [];
    await jobs.create(job);
    const owner = randomUUID();
    await jobs.startAttempt("acme", id, { owner, expiresAtMs: Date.now() + 60_000 }, new Date());
    expect(JSON.stringify(await jobs.getRequest("acme", id))).toBe(JSON.stringify(invoice));
    const sha256 = "e".repeat(64);
    const output = { key: `outputs/acme/${sha256}.png`, contentType: "image/png", bytes: 105_460, sha256 };
    expect((await jobs.markSucceeded("acme", id, owner, output, new Date(), false)).applied).toBe(true);

    // Request item once (2 WRU), then three writes of the job item at 1 WRU; the worker's read: 1 RRU.
    expect(units).toEqual([
      ["PutItem", 2],
      ["PutItem", 1],
      ["UpdateItem", 1],
      ["GetItem", 1],
      ["UpdateItem", 1],
    ]);
    const a = DEFAULT_ASSUMPTIONS;
    const requestItem = requestItemSize(a);
    expect(units.map(([, n]) => n)).toEqual([
      writeUnits(requestItem),
      writeUnits(a.jobItemBytes),
      writeUnits(a.jobItemBytes),
      readUnits(requestItem),
      writeUnits(a.jobItemBytes),
    ]);
    expect(a.jobWrites).toBe(3);

    const db = DynamoDBDocumentClient.from(client);
    const { Item: jobItem } = await db.send(
      new GetCommand({ TableName: "contract", Key: jobItemKey("acme", id) }),
    );
    expect(jobItem).toMatchObject({ status: "succeeded", output, provenance: job.provenance });
    expect(Object.keys(jobItem ?? {}).filter((k) => k.startsWith("request"))).toEqual([]);
    const { Item: requestItemStored } = await db.send(
      new GetCommand({ TableName: "contract", Key: jobRequestItemKey("acme", id) }),
    );
    expect(requestItemStored?.requestBr).toBeInstanceOf(Uint8Array);
    expect(requestItemStored?.expiresAtEpoch).toBe(retentionExpiry(created));
  });

  it("creates a job served from the render cache succeeded, kept no longer than its output", async () => {
    const jobs = new DynamoDbJobStore(client, "contract");
    const id = randomUUID();
    const created = new Date().toISOString();
    const retainUntil = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const sha256 = "f".repeat(64);
    const output = { key: `outputs/acme/${sha256}.pdf`, contentType: "application/pdf", bytes: 10, sha256 };
    const hit: Job = {
      tenant: "acme",
      id,
      status: "succeeded",
      createdAt: created,
      updatedAt: created,
      attempts: 0,
      output,
      callbackUrl: "https://hooks.example.com/k",
      webhook: { state: "pending", attempts: [] },
      cache: { state: "hit", sourceJobId: randomUUID() },
      provenance: provenanceOf(inputDigests(invoice, undefined, {}), RENDERER),
      retainUntil,
    };
    expect(await jobs.create(hit)).toBe("created");
    const { retainUntil: _, ...stored } = hit;
    expect(await jobs.get("acme", id)).toEqual(stored);
    const raw = await DynamoDBDocumentClient.from(client).send(
      new GetCommand({ TableName: "contract", Key: jobItemKey("acme", id) }),
    );
    expect(raw.Item?.expiresAtEpoch).toBe(Math.floor(Date.parse(retainUntil) / 1000));
    // Terminal from the start: never in the open-jobs index.
    expect(raw.Item?.openShard).toBeUndefined();
  });

  it("keeps render-cache entries per tenant and key: the first live one stays, an expired one is absent", async () => {
    const cache = new DynamoDbRenderCache(client, "contract");
    const key = randomBytes(32).toString("hex");
    const now = new Date();
    const output = { key: "outputs/acme/a.png", contentType: "image/png", bytes: 1, sha256: "a".repeat(64) };
    const entry = {
      key,
      sourceJobId: randomUUID(),
      output,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 60_000).toISOString(),
    };
    expect(await cache.get("acme", key, now)).toBeUndefined();
    await cache.put("acme", entry, now);
    expect(await cache.get("acme", key, now)).toEqual(entry);
    expect(await cache.get("globex", key, now)).toBeUndefined();
    await cache.put("acme", { ...entry, sourceJobId: randomUUID() }, now);
    expect((await cache.get("acme", key, now))?.sourceJobId).toBe(entry.sourceJobId);
    const later = new Date(now.getTime() + 61_000);
    expect(await cache.get("acme", key, later)).toBeUndefined();
    const renewed = {
      ...entry,
      sourceJobId: randomUUID(),
      expiresAt: new Date(later.getTime() + 60_000).toISOString(),
    };
    await cache.put("acme", renewed, later);
    expect(await cache.get("acme", key, later)).toEqual(renewed);
  });

  it("claims an idempotency key as the typed client sends it in the units the cost model counts", async () => {
    const idempotency = new DynamoDbIdempotencyStore(metered, "contract");
    const now = new Date();
    units = [];
    const record = {
      key: randomUUID(),
      fingerprint: requestFingerprint(invoice),
      jobId: randomUUID(),
      createdAt: now.toISOString(),
      expiresAtMs: now.getTime() + 86_400_000,
    };
    expect((await idempotency.claim("acme", record, now)).claimed).toBe(true);
    const a = DEFAULT_ASSUMPTIONS;
    expect(units).toEqual([["PutItem", writeUnits(a.idempotencyItemBytes)]]);

    const { Item } = await DynamoDBDocumentClient.from(client).send(
      new GetCommand({ TableName: "contract", Key: idempotencyItemKey("acme", record.key) }),
    );
    // The assumed size stays within 10 % of the item as DynamoDB sizes it: names plus values.
    const size = Object.entries(Item ?? {}).reduce(
      (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(String(value)),
      0,
    );
    expect(Math.abs(size - a.idempotencyItemBytes) / a.idempotencyItemBytes).toBeLessThan(0.1);
  });

  it("stores a tenant's settings stamped with the instant it is given, and reads them back", async () => {
    const settings = new DynamoDbTenantSettingsStore(client, "contract");
    const stored = { egress: { allowHosts: ["cdn.acme.example"] } };
    await settings.put("acme", stored, new Date("2031-02-03T04:05:06.000Z"));
    expect(await settings.get("acme")).toEqual(stored);
    expect(await settings.get("globex")).toBeUndefined();
    const { Item } = await DynamoDBDocumentClient.from(client).send(
      new GetCommand({ TableName: "contract", Key: { pk: "TENANT#acme#SETTINGS", sk: "SETTINGS" } }),
    );
    expect(Item?.updatedAt).toBe("2031-02-03T04:05:06.000Z");
  });

  it("still renders a job stored before the request item, with the request on the job item", async () => {
    const jobs = new DynamoDbJobStore(client, "contract");
    const id = randomUUID();
    const created = at(0).toISOString();
    const record: Job = {
      tenant: "acme",
      id,
      status: "queued",
      createdAt: created,
      updatedAt: created,
      attempts: 0,
    };
    await DynamoDBDocumentClient.from(client).send(
      new PutCommand({
        TableName: "contract",
        Item: {
          ...jobItemKey("acme", id),
          ...record,
          requestJson: JSON.stringify(invoice),
          expiresAtEpoch: retentionExpiry(created),
        },
      }),
    );
    expect(await jobs.get("acme", id)).toEqual(record);
    expect(JSON.stringify(await jobs.getRequest("acme", id))).toBe(JSON.stringify(invoice));
    const started = await jobs.startAttempt("acme", id, { owner: "a", expiresAtMs: T0 + 1000 }, at(0));
    expect(started).toMatchObject({ kind: "started", job: { status: "rendering", attempts: 1 } });
    expect((await jobs.markSucceeded("acme", id, "a", output, at(1), false)).job).toMatchObject({
      status: "succeeded",
      output,
    });
    expect(JSON.stringify(await jobs.getRequest("acme", id))).toBe(JSON.stringify(invoice));
  });

  it("reads a job's request with its tenant's settings in one BatchGetItem: the same answers and units as the two reads", async () => {
    const jobs = new DynamoDbJobStore(metered, "contract");
    const settings = new DynamoDbTenantSettingsStore(client, "contract");
    const stored = { egress: { allowHosts: ["cdn.initech.example"] } };
    await settings.put("initech", stored, new Date());
    const created = new Date().toISOString();
    const job = (tenant: string): Job => ({
      tenant,
      id: randomUUID(),
      status: "queued",
      createdAt: created,
      updatedAt: created,
      attempts: 0,
      request: invoice,
    });
    const withSettings = job("initech");
    const withoutSettings = job("globex");
    await jobs.create(withSettings);
    await jobs.create(withoutSettings);

    units = [];
    const together = await jobs.getRequestAndSettings("initech", withSettings.id);
    const togetherUnits = units;
    units = [];
    const request = await jobs.getRequest("initech", withSettings.id);
    const apart = await new DynamoDbTenantSettingsStore(metered, "contract").get("initech");
    expect(JSON.stringify(together.request)).toBe(JSON.stringify(invoice));
    expect(JSON.stringify(together.request)).toBe(JSON.stringify(request));
    expect(together.settings).toEqual(stored);
    expect(together.settings).toEqual(apart);
    // One call instead of two, the request item's 1 RRU and the settings item's 1 RRU all the same.
    expect(togetherUnits).toEqual([["BatchGetItem", 2]]);
    expect(units).toEqual([
      ["GetItem", 1],
      ["GetItem", 1],
    ]);

    const none = await jobs.getRequestAndSettings("globex", withoutSettings.id);
    expect(JSON.stringify(none.request)).toBe(JSON.stringify(invoice));
    expect(none.settings).toBeUndefined();
    // Another tenant's settings never come with a job: the settings key is the job's tenant's.
    expect(await jobs.getRequestAndSettings("globex", withSettings.id)).toEqual({});
  });

  it("reads the request of a job stored before the request item through the combined read too", async () => {
    const jobs = new DynamoDbJobStore(client, "contract");
    const id = randomUUID();
    const created = at(0).toISOString();
    await DynamoDBDocumentClient.from(client).send(
      new PutCommand({
        TableName: "contract",
        Item: {
          ...jobItemKey("umbrella", id),
          tenant: "umbrella",
          id,
          status: "queued",
          createdAt: created,
          updatedAt: created,
          attempts: 0,
          requestJson: JSON.stringify(invoice),
          expiresAtEpoch: retentionExpiry(created),
        },
      }),
    );
    const read = await jobs.getRequestAndSettings("umbrella", id);
    expect(JSON.stringify(read.request)).toBe(JSON.stringify(invoice));
    expect(read.settings).toBeUndefined();
  });
});

describe("job retention", () => {
  it("expires a job, its request item and its batch the configured days after creation", async () => {
    const days = 7;
    const jobs = new DynamoDbJobStore(client, "contract", days);
    const batches = new DynamoDbBatchStore(client, "contract", days);
    const job = newJob();
    await jobs.create(job);
    await batches.create({
      tenant: "acme",
      id: `batch-${job.id}`,
      createdAt: job.createdAt,
      total: 1,
      chunkSize: 1,
      mergePdf: false,
      zip: false,
    });
    const expected = Math.floor(Date.parse(job.createdAt) / 1000) + days * 86_400;
    const db = DynamoDBDocumentClient.from(client);
    const read = async (Key: Record<string, string>) =>
      (await db.send(new GetCommand({ TableName: "contract", Key }))).Item?.expiresAtEpoch;
    expect(await read(jobItemKey("acme", job.id))).toBe(expected);
    expect(await read(jobRequestItemKey("acme", job.id))).toBe(expected);
    expect(await read(batchItemKey("acme", `batch-${job.id}`))).toBe(expected);
    // The default is the 30 days jobs were always kept.
    expect(retentionExpiry(job.createdAt)).toBe(expected + 23 * 86_400);
  });
});
