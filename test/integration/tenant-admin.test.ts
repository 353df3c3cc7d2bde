import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DynamoDBClient, paginateScan } from "@aws-sdk/client-dynamodb";
import { paginateListObjectsV2, S3Client } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KilnApiError, KilnClient, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { LOCAL_NAMES } from "../../functions/local/resources.js";
import { eventually, startTestStack, TENANT_B, type TestStack } from "./helpers/local-stack.js";

/**
 * `kiln tenants` against a running local stack (the CLI finds it through the data dir, as it finds an
 * `npm start` stack): a tenant is created, gets a key, stores renders, a batch, templates, assets,
 * settings and a webhook secret beside another tenant, and is deleted. The test reads the table and
 * the buckets itself, before and after.
 */

const run = promisify(execFile);
const DOOMED = "doomed-co";
const TIERS = { standard: { rateLimit: 1000, burst: 2000 }, slow: { rateLimit: 1, burst: 2 } };
let t: TestStack;

beforeAll(async () => {
  // A rate limit no test request comes near, except in the "slow" tier.
  t = await startTestStack({
    workerConcurrency: 1,
    renderConcurrency: 1,
    rateLimit: { perSecond: 1000, burst: 2000 },
    tiers: TIERS,
  });
});
afterAll(async () => {
  await t?.stop();
});

async function kiln(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/kiln.mjs", "tenants", ...args], {
      env: { ...process.env, KILN_DATA_DIR: t.dataDir, KILN_TIERS: JSON.stringify(TIERS) },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every item of the jobs table and every object of the four buckets, as one line each. */
async function inventory(): Promise<string[]> {
  const lines: string[] = [];
  const dynamodb = new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb));
  for await (const page of paginateScan({ client: dynamodb }, { TableName: LOCAL_NAMES.jobsTable })) {
    for (const item of page.Items ?? []) {
      const { pk, sk, tenant } = unmarshall(item) as { pk: string; sk: string; tenant?: string };
      lines.push(`table ${pk} ${sk}${tenant ? ` tenant=${tenant}` : ""}`);
    }
  }
  dynamodb.destroy();
  const s3 = new S3Client(localClientConfig(t.stack.endpoints.sqsS3));
  for (const bucket of [
    LOCAL_NAMES.templatesBucket,
    LOCAL_NAMES.assetsBucket,
    LOCAL_NAMES.outputsBucket,
    LOCAL_NAMES.payloadsBucket,
  ]) {
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
      for (const o of page.Contents ?? []) lines.push(`${bucket} ${o.Key}`);
    }
  }
  s3.destroy();
  return lines.sort();
}

const mentions = (tenant: string) => (line: string) =>
  line.includes(`#${tenant}#`) ||
  line.includes(`/${tenant}/`) ||
  line.includes(`tenant=${tenant}`) ||
  line.endsWith(`TENANT#${tenant}`);

/** Everything a tenant can store through the API, finished (no render or batch still writing). */
async function populate(client: KilnClient): Promise<void> {
  await client.createTemplate({ id: "letter", html: "<p>one {{ n }}</p>" });
  await client.createTemplate({ id: "letter", html: "<p>two {{ n }}</p>" });
  await client.putAsset(
    "brand/logo.svg",
    Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
    "image/svg+xml",
  );
  await client.getWebhookSecret();
  await client.putSettings({ egress: { allowHosts: ["cdn.example.com"] } });
  const small: RenderSubmissionInput = {
    template: { id: "letter", version: 2 },
    data: { n: 1 },
    output: { format: "png", width: 40, height: 40 },
  };
  // Over the inline limit: its request goes to the payloads bucket.
  const large: RenderSubmissionInput = { ...small, data: { n: 2, filler: "x".repeat(140 * 1024) } };
  const jobs = [
    await client.submitRender(small, { idempotencyKey: "order-1" }),
    await client.submitRender(large),
  ];
  for (const { id } of jobs)
    expect((await client.waitFor(id, { timeoutMs: 60_000 })).status).toBe("succeeded");
  const batch = await client.submitBatch({
    template: { id: "letter", version: 1 },
    records: [{ n: 1 }, { n: 2 }],
    output: { format: "png", width: 40, height: 40 },
    zip: true,
  });
  await eventually(async () => {
    const view = await client.getBatch(batch.id);
    return view.status === "succeeded" && view.zip?.state === "ready" ? view : undefined;
  }, `batch ${batch.id} and its zip`);
}

function countsOf(stdout: string): Record<string, number> {
  return Object.fromEntries(
    [...stdout.matchAll(/^ {2}([a-z ]+): (\d+)$/gm)].map((m) => [m[1] as string, Number(m[2])]),
  );
}

async function status(apiKey: string): Promise<number> {
  const client = new KilnClient({ baseUrl: t.stack.apiUrl, apiKey, retry: { attempts: 1 } });
  try {
    return (await client.request("GET", "/v1/settings")).status;
  } catch (err) {
    if (err instanceof KilnApiError) return err.status;
    throw err;
  }
}

describe("kiln tenants", () => {
  it("creates a tenant, gives it a key, and deletes all it stored and nothing of another tenant's", async () => {
    expect((await kiln("create", "bad#name")).code).toBe(2);
    expect((await kiln("create", DOOMED, "--tier", "platinum")).stderr).toContain('tier "platinum"');
    const created = await kiln("create", DOOMED);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(`Tenant ${DOOMED}: created (tier standard)`);
    const added = await kiln("keys", "add", DOOMED);
    expect(added.code, added.stderr).toBe(0);
    const apiKey = added.stdout.trim().split("\n").at(-1) ?? "";
    expect(apiKey).toMatch(/^kiln_/);
    const listed = await kiln("list");
    expect(listed.stdout).toMatch(new RegExp(`^${DOOMED}\\ttier standard\\t1 key$`, "m"));

    const doomed = new KilnClient({ baseUrl: t.stack.apiUrl, apiKey });
    await Promise.all([populate(doomed), populate(t.clientB)]);

    const before = await inventory();
    const mine = before.filter(mentions(DOOMED));
    const others = before.filter((l) => !mentions(DOOMED)(l));
    expect(others.filter(mentions(TENANT_B.tenant)).length).toBeGreaterThan(10);
    // What the test itself finds of the tenant, by where it lives.
    const found = {
      jobs: mine.filter((l) => / JOB( |$)/.test(l)).length,
      "job requests": mine.filter((l) => / REQUEST( |$)/.test(l)).length,
      batches: mine.filter((l) => /#BATCH#\S* BATCH( |$)/.test(l)).length,
      "template versions": mine.filter((l) => / VERSION#/.test(l)).length,
      "template objects": mine.filter((l) => l.startsWith(`${LOCAL_NAMES.templatesBucket} `)).length,
      assets: mine.filter((l) => l.startsWith(`${LOCAL_NAMES.assetsBucket} `)).length,
      outputs: mine.filter((l) => l.startsWith(`${LOCAL_NAMES.outputsBucket} `)).length,
      payloads: mine.filter((l) => l.startsWith(`${LOCAL_NAMES.payloadsBucket} `)).length,
      "api keys": mine.filter((l) => l.startsWith("table APIKEY#")).length,
    };
    // Four jobs (two alone, two of the batch); the large job's request is in the payloads bucket instead.
    expect(found).toMatchObject({
      jobs: 4,
      "job requests": 3,
      batches: 1,
      "template versions": 2,
      "api keys": 1,
    });
    expect(found.payloads).toBeGreaterThanOrEqual(2);
    expect(found.outputs).toBeGreaterThanOrEqual(3);

    // Without --yes: the counts, a refusal, and nothing deleted.
    const dry = await kiln("delete", DOOMED);
    expect(dry.code).toBe(2);
    expect(dry.stdout).toContain("Nothing was deleted");
    expect(await inventory()).toEqual(before);

    const done = await kiln("delete", DOOMED, "--yes");
    expect(done.code, done.stderr).toBe(0);
    const counts = countsOf(done.stdout);
    expect(counts).toEqual(countsOf(dry.stdout));
    expect(counts).toMatchObject({ ...found, settings: 1, "webhook secret": 1, "tenant record": 1 });
    expect(counts.total).toBe(mine.length);

    const after = await inventory();
    expect(after.filter(mentions(DOOMED))).toEqual([]);
    expect(after).toEqual(others);

    const again = await kiln("delete", DOOMED, "--yes");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to delete");
    // Its key is refused once the api function's key cache (30 s) no longer holds it.
    await eventually(
      async () => ([401, 403].includes(await status(apiKey)) ? true : undefined),
      "the deleted tenant's key to be refused",
      45_000,
    );
    expect(await status(TENANT_B.apiKey)).toBe(200);
  }, 240_000);

  it("revokes one key of a tenant by its id; the tenant's other keys keep working", async () => {
    const tenant = "revoker";
    expect((await kiln("create", tenant)).code).toBe(0);
    const keys = [];
    for (let i = 0; i < 2; i++) {
      const added = await kiln("keys", "add", tenant);
      keys.push({
        apiKey: added.stdout.trim().split("\n").at(-1) ?? "",
        id: /id ([0-9a-f]{12})/.exec(added.stdout)?.[1] ?? "",
      });
    }
    const [first, second] = keys as [(typeof keys)[0], (typeof keys)[0]];
    // Never used: not in the api function's key cache, so the revocation shows at once.
    const revoked = await kiln("keys", "revoke", tenant, first.id.slice(0, 8));
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`Revoked key ${first.id}`);
    expect([401, 403]).toContain(await status(first.apiKey));
    expect(await status(second.apiKey)).toBe(200);
    expect((await kiln("keys", "revoke", tenant, first.id)).stderr).toContain("has no key");
    expect((await kiln("keys", "list", tenant)).stdout.trim().split("\n")).toEqual([
      expect.stringMatching(new RegExp(`^${second.id}\\tkiln_`)),
    ]);
  }, 60_000);

  it("limits a tenant by the rate of the tier it was created in", async () => {
    expect((await kiln("create", "slowpoke", "--tier", "slow")).code).toBe(0);
    const apiKey = (await kiln("keys", "add", "slowpoke")).stdout.trim().split("\n").at(-1) ?? "";
    // A burst of 2 at 1 request per second: the third request at once is refused.
    expect([await status(apiKey), await status(apiKey), await status(apiKey)]).toEqual([200, 200, 429]);
    expect(await status(TENANT_B.apiKey)).toBe(200);
  });
});
