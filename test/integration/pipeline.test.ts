import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudFrontUrlSigner } from "../../functions/adapters/aws/cloudfront-url-signer.js";
import { jobItemKey } from "../../functions/adapters/aws/jobs-table.js";
import { KilnApiError, KilnClient, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { loadOrCreateSigningKeys } from "../../functions/local/signing-keys.js";
import { eventually, gate, startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

/** A 300×200 page: red box at the top left, blue elsewhere. */
const boxJob = (marker: string): RenderSubmissionInput => ({
  template: {
    html: `<!doctype html><html><head><style>html,body{margin:0;background:#0000ff}#box{position:absolute;left:0;top:0;width:100px;height:50px;background:{{ colour }}}</style></head><body><div id="box" data-marker="${marker}"></div></body></html>`,
  },
  data: { colour: "#ff0000" },
  output: { format: "png", width: 300, height: 200 },
});

const renders = new Map<string, number>();
/** Renders whose marker names a gate wait at the worker until the test opens it. */
const gates = { "hold-1": gate(), "hold-2": gate() };
let t: TestStack;
let dynamodb: DynamoDBClient;
let sqs: SQSClient;

beforeAll(async () => {
  t = await startTestStack({
    visibilityTimeoutSeconds: 2,
    // Three render attempts, then one receive that settles the job as failed.
    maxReceiveCount: 4,
    retry: { baseSeconds: 1, maxSeconds: 1 },
    workerConcurrency: 1,
    faults: {
      // Markers in the HTML let the test steer one job without touching the others.
      beforeRender: async (html) => {
        const marker = /data-marker="([^"]+)"/.exec(html)?.[1] ?? "";
        const count = (renders.get(marker) ?? 0) + 1;
        renders.set(marker, count);
        await gates[marker as keyof typeof gates]?.opened;
        if (marker.startsWith("always-fail")) return new Error(`injected crash (${marker})`);
        if (marker.startsWith("fail-once") && count === 1) return new Error(`injected crash (${marker})`);
        return undefined;
      },
    },
  });
  dynamodb = new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb));
  sqs = new SQSClient(localClientConfig(t.stack.endpoints.sqsS3));
});

afterAll(async () => {
  for (const g of Object.values(gates)) g.open();
  await t?.stop();
});

async function storedStatus(id: string): Promise<string | undefined> {
  const { Item } = await dynamodb.send(
    new GetItemCommand({
      TableName: t.stack.names.jobsTable,
      Key: { pk: { S: jobItemKey(TENANT_A.tenant, id).pk as string }, sk: { S: "JOB" } },
    }),
  );
  return Item?.status?.S;
}

describe("local pipeline: API → queue → Chromium worker → S3 → status → signed URL", () => {
  let outputUrl = "";

  it("takes a job from queued through rendering to succeeded and serves the PNG through a signed URL", async () => {
    // One poller: while the first job is held at the worker, the second must wait in the queue.
    const first = await t.clientA.submitRender(boxJob("hold-1"));
    await eventually(
      async () => ((await storedStatus(first.id)) === "rendering" ? true : undefined),
      "first rendering",
    );

    const submitted = await t.clientA.submitRender(boxJob("hold-2"));
    expect(submitted.status).toBe("queued");
    expect(submitted.location).toBe(`/v1/renders/${submitted.id}`);
    expect(await storedStatus(submitted.id)).toBe("queued");

    gates["hold-1"].open();
    await eventually(
      async () => ((await storedStatus(submitted.id)) === "rendering" ? true : undefined),
      "rendering",
    );
    expect((await t.clientA.getRender(submitted.id)).status).toBe("rendering");
    gates["hold-2"].open();

    const done = await t.clientA.waitFor(submitted.id, { timeoutMs: 60_000 });
    expect(done.status).toBe("succeeded");
    expect(await storedStatus(submitted.id)).toBe("succeeded");
    expect(done.attempts).toBe(1);
    expect(done.output?.contentType).toBe("image/png");
    expect(
      done.output?.url.startsWith(
        `${t.stack.edgeUrl}/outputs/${TENANT_A.tenant}/${done.output?.sha256}.png?`,
      ),
    ).toBe(true);
    expect(Date.parse(done.output?.expiresAt ?? "")).toBeGreaterThan(Date.now());

    outputUrl = done.output?.url ?? "";
    const res = await fetch(outputUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(done.output?.bytes);
    const png = PNG.sync.read(bytes);
    expect([png.width, png.height]).toEqual([300, 200]);
    const pixel = (x: number, y: number) => [
      ...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3),
    ];
    expect(pixel(50, 25)).toEqual([255, 0, 0]);
    expect(pixel(200, 150)).toEqual([0, 0, 255]);
  });

  it("refuses tampered, expired and unsigned URLs with 403", async () => {
    expect(outputUrl).not.toBe("");
    const url = new URL(outputUrl);

    const tampered = new URL(url);
    const signature = tampered.searchParams.get("Signature") ?? "";
    tampered.searchParams.set("Signature", (signature[0] === "A" ? "B" : "A") + signature.slice(1));
    expect((await fetch(tampered)).status).toBe(403);

    const otherPath = new URL(url);
    otherPath.pathname = otherPath.pathname.replace(/[0-9a-f]{8}\.png$/, "00000000.png");
    expect((await fetch(otherPath)).status).toBe(403);

    const unsigned = new URL(url);
    unsigned.search = "";
    expect((await fetch(unsigned)).status).toBe(403);

    // A URL signed by the stack's own key an hour ago: valid signature, past its expiry.
    const keys = await loadOrCreateSigningKeys(t.dataDir);
    const anHourAgo = new Date(Date.now() - 3_600_000);
    const [expired] = await new CloudFrontUrlSigner({
      baseUrl: t.stack.edgeUrl,
      keyPairId: keys.keyPairId,
      privateKeyPem: async () => keys.privateKeyPem,
      clock: { now: () => anHourAgo },
      defaultTtlSeconds: 300,
    }).sign([url.pathname.slice(1)]);
    expect(expired?.url).toBeDefined();
    expect((await fetch(expired?.url ?? "")).status).toBe(403);

    expect((await fetch(outputUrl)).status).toBe(200);
  });

  it("redelivers only the record that failed, and dead-letters a record that always fails with its job failed", async () => {
    const ok = await t.clientA.submitRender(boxJob("ok-2"));
    const once = await t.clientA.submitRender(boxJob("fail-once-2"));
    const always = await t.clientA.submitRender(boxJob("always-fail-2"));

    const [okDone, onceDone, alwaysDone] = await Promise.all(
      [ok, once, always].map((j) => t.clientA.waitFor(j.id)),
    );
    expect(okDone?.status).toBe("succeeded");
    expect(onceDone?.status).toBe("succeeded");
    expect(alwaysDone?.status).toBe("failed");

    // Each render call is counted at the worker: the healthy job was never redelivered.
    expect(renders.get("ok-2")).toBe(1);
    expect(okDone?.attempts).toBe(1);
    expect(renders.get("fail-once-2")).toBe(2);
    expect(onceDone?.attempts).toBe(2);
    expect(renders.get("always-fail-2")).toBe(3);
    expect(alwaysDone?.error?.code).toBe("render_failed");
    expect(alwaysDone?.error?.message).toContain("injected crash (always-fail-2)");

    const dead = await eventually(async () => {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: t.stack.queues.deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      return Messages?.find((m) => m.Body?.includes(always.id));
    }, "the failed job's message in the dead-letter queue");
    expect(JSON.parse(dead.Body ?? "{}")).toMatchObject({ tenant: TENANT_A.tenant, jobId: always.id });
  });

  it("keeps tenants apart: another tenant's job is 404, and a missing or wrong key is 401", async () => {
    const job = await t.clientA.submitRender(boxJob("ok-3"));
    await expect(t.clientB.getRender(job.id)).rejects.toMatchObject({ status: 404 });
    const noKey = new KilnClient({ baseUrl: t.stack.apiUrl });
    await expect(noKey.getRender(job.id)).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    const wrongKey = new KilnClient({ baseUrl: t.stack.apiUrl, apiKey: "wrong-key-123" });
    await expect(wrongKey.getRender(job.id)).rejects.toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("answers bad requests over HTTP with a 400 naming the field, never a 5xx", async () => {
    const cases: Array<[string, string]> = [
      ["{", ""],
      [JSON.stringify({ ...boxJob("x"), extra: true }), "extra"],
      [JSON.stringify({ ...boxJob("x"), output: { format: "png", width: "wide" } }), "output.width"],
      [JSON.stringify({ template: {}, output: { format: "png" } }), "template.html"],
    ];
    for (const [body, field] of cases) {
      // Raw bodies, malformed JSON included: what the typed methods would never send.
      const refused = await t.clientA
        .request("POST", "/v1/renders", { body, contentType: "application/json" })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(refused, body).toBeInstanceOf(KilnApiError);
      expect((refused as KilnApiError).status, body).toBe(400);
      expect((refused as KilnApiError).fields.map((f) => f.field)).toContain(field);
    }
    await expect(
      t.clientA.submitRender({ nonsense: 1 } as unknown as RenderSubmissionInput),
    ).rejects.toMatchObject({ status: 400, code: "invalid_request" });
  });
});
