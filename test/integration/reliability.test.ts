import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobItemKey } from "../../functions/adapters/aws/jobs-table.js";
import { KilnApiError, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { type KilnWebhookEvent, verifyWebhook } from "../../functions/client/webhooks.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import type { RenderFault } from "../../functions/local/fault-injection.js";
import { eventually, gate, startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

/** A small page whose marker lets the fault hook steer this one job. */
const job = (marker: string, extra: Record<string, unknown> = {}): RenderSubmissionInput => ({
  template: {
    html: `<!doctype html><body style="margin:0"><p data-marker="${marker}">{{ text }}</p></body>`,
  },
  data: { text: marker },
  output: { format: "png", width: 200, height: 100 },
  ...extra,
});

const HOLD_SECONDS = 2;
const renderStarts = new Map<string, number[]>();
const faultsByMarker = new Map<string, RenderFault[]>();
const gates: Record<string, ReturnType<typeof gate>> = { "long-render": gate() };
let t: TestStack;
let dynamodb: DynamoDBClient;

/** Webhook deliveries received, verified with the tenant's secret. */
const deliveries: Array<KilnWebhookEvent & { webhookId: string; status: number }> = [];
/** Jobs whose first delivery the receiver answers with a 500; every other delivery gets a 204. */
const failFirstDeliveryOf = new Set<string>();
let receiver: Server;
let receiverUrl = "";
let secret = "";

beforeAll(async () => {
  t = await startTestStack({
    visibilityTimeoutSeconds: HOLD_SECONDS,
    maxReceiveCount: 4,
    retry: { baseSeconds: 1, maxSeconds: 1 },
    workerConcurrency: 2,
    webhookSchedule: { delaysSeconds: [1], windowSeconds: 60 },
    faults: {
      beforeRender: async (html) => {
        const marker = /data-marker="([^"]+)"/.exec(html)?.[1] ?? "";
        renderStarts.set(marker, [...(renderStarts.get(marker) ?? []), Date.now()]);
        await gates[marker]?.opened;
        return faultsByMarker.get(marker)?.shift();
      },
    },
  });
  dynamodb = new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb));
  secret = await t.clientA.getWebhookSecret();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const event = verifyWebhook(secret, req.headers as Record<string, string>, Buffer.concat(chunks));
        const status = failFirstDeliveryOf.delete(event.data.id) ? 500 : 204;
        deliveries.push({ ...event, status });
        res.writeHead(status).end();
      } catch {
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/kiln`;
});

afterAll(async () => {
  for (const g of Object.values(gates)) g.open();
  await t?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  dynamodb?.destroy();
});

async function storedItem(id: string) {
  const key = jobItemKey(TENANT_A.tenant, id);
  const { Item } = await dynamodb.send(
    new GetItemCommand({
      TableName: t.stack.names.jobsTable,
      Key: { pk: { S: key.pk as string }, sk: { S: "JOB" } },
      ConsistentRead: true,
    }),
  );
  return Item;
}

describe("reliability on the local stack (real Chromium, real stand-ins)", () => {
  it("keeps a long render's message hidden by heartbeat instead of letting it be redelivered", async () => {
    const submitted = await t.clientA.submitRender(job("long-render"));
    const first = await eventually(async () => {
      const item = await storedItem(submitted.id);
      return item?.status?.S === "rendering" && item.leaseExpiresAt?.N
        ? Number(item.leaseExpiresAt.N)
        : undefined;
    }, "the render to start under a lease");
    // Wait until the lease has been renewed well past two whole visibility timeouts.
    await eventually(async () => {
      const item = await storedItem(submitted.id);
      return Number(item?.leaseExpiresAt?.N ?? 0) > first + 2 * HOLD_SECONDS * 1000 ? true : undefined;
    }, "the lease to be renewed by the heartbeat");
    expect(renderStarts.get("long-render")).toHaveLength(1);
    gates["long-render"]?.open();
    const done = await t.clientA.waitFor(submitted.id);
    expect(done.status).toBe("succeeded");
    expect(done.attempts).toBe(1);
    expect(renderStarts.get("long-render")).toHaveLength(1);
  });

  it("takes over a job whose worker was killed mid-render only after the dead attempt's lease expired", async () => {
    faultsByMarker.set("killed", ["kill"]);
    const submitted = await t.clientA.submitRender(job("killed"));
    const deadLease = await eventually(async () => {
      const item = await storedItem(submitted.id);
      return item?.leaseExpiresAt?.N ? Number(item.leaseExpiresAt.N) : undefined;
    }, "the first attempt's lease");
    const done = await t.clientA.waitFor(submitted.id);
    expect(done.status).toBe("succeeded");
    expect(done.attempts).toBe(2);
    const [, second] = renderStarts.get("killed") ?? [];
    expect(second).toBeGreaterThanOrEqual(deadLease);
  });

  it("recovers from a Chromium crash mid-render by retrying the job", async () => {
    faultsByMarker.set("crashed", ["crash-browser"]);
    const submitted = await t.clientA.submitRender(job("crashed"));
    const done = await t.clientA.waitFor(submitted.id);
    expect(done.status).toBe("succeeded");
    expect(renderStarts.get("crashed")?.length).toBeGreaterThanOrEqual(1);
  });

  it("answers a repeated POST with the same Idempotency-Key with the same job, and 409s a different body", async () => {
    const body = job("idempotent");
    const first = await t.clientA.submitRender(body, { idempotencyKey: "order-1001" });
    const again = await t.clientA.submitRender(body, { idempotencyKey: "order-1001" });
    expect(first.replayed).toBe(false);
    expect(again).toMatchObject({ id: first.id, replayed: true });
    const conflict = t.clientA.submitRender(job("something else"), { idempotencyKey: "order-1001" });
    await expect(conflict).rejects.toMatchObject({ status: 409, code: "idempotency_key_reused" });
    // Another tenant's identical key is its own.
    const other = await t.clientB.submitRender(body, { idempotencyKey: "order-1001" });
    expect(other.id).not.toBe(first.id);
    expect((await t.clientA.waitFor(first.id)).status).toBe("succeeded");
    expect((await t.clientB.waitFor(other.id)).status).toBe("succeeded");
    // One render per tenant: the replayed POST rendered nothing.
    expect(renderStarts.get("idempotent")).toHaveLength(2);
  });

  it("renders a request too large for the job record from the payload bucket, and 413s one over 3 MiB", async () => {
    const filler = "z".repeat(400 * 1024);
    const submitted = await t.clientA.submitRender(job("large", { data: { text: "large", filler } }));
    const s3 = new S3Client(localClientConfig(t.stack.endpoints.sqsS3));
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: t.stack.names.payloadsBucket,
        Key: `requests/${TENANT_A.tenant}/${submitted.id}.json`,
      }),
    );
    expect(head.ContentLength).toBeGreaterThan(400 * 1024);
    expect((await storedItem(submitted.id))?.requestJson).toBeUndefined();
    expect((await t.clientA.waitFor(submitted.id)).status).toBe("succeeded");

    const tooLarge = t.clientA.submitRender(job("huge", { data: { filler: "z".repeat(3 * 1024 * 1024) } }));
    await expect(tooLarge).rejects.toBeInstanceOf(KilnApiError);
    await expect(tooLarge).rejects.toMatchObject({ status: 413, code: "payload_too_large" });
    s3.destroy();
  });

  it("POSTs a signed completion webhook, retries a failed delivery, and shows the attempts in GET", async () => {
    gates.hooked = gate();
    const ok = await t.clientA.submitRender(job("hooked", { callbackUrl: receiverUrl }));
    failFirstDeliveryOf.add(ok.id);
    gates.hooked.open();
    const broken = await t.clientA.submitRender({
      ...job("hooked-broken", { callbackUrl: receiverUrl }),
      template: { html: "{{ 'logo' | asset_url }}" },
    });
    const delivered = await eventually(async () => {
      const view = await t.clientA.getRender(ok.id);
      return view.webhook?.state === "delivered" ? view : undefined;
    }, "the webhook of the succeeded job to be delivered");
    expect(delivered.webhook?.attempts.map((a) => a.status)).toEqual([500, 204]);
    const forOk = deliveries.filter((d) => d.data.id === ok.id);
    expect(forOk.map((d) => d.status)).toEqual([500, 204]);
    expect(new Set(forOk.map((d) => d.webhookId))).toEqual(new Set([`evt_${ok.id}`]));
    expect(forOk[1]).toMatchObject({
      type: "render.succeeded",
      data: { status: "succeeded", output: { sha256: delivered.output?.sha256 } },
    });

    await eventually(
      async () => ((await t.clientA.getRender(broken.id)).webhook?.state === "delivered" ? true : undefined),
      "the webhook of the failed job",
    );
    expect(deliveries.find((d) => d.data.id === broken.id)).toMatchObject({
      type: "render.failed",
      data: { status: "failed", error: { code: "template_error" } },
    });
  });

  it("refuses a callbackUrl outside the local policy, naming the field", async () => {
    const refused = await t.clientA.submitRender(job("x", { callbackUrl: "http://example.com/hook" })).then(
      () => undefined,
      (e: KilnApiError) => e,
    );
    expect(refused?.status).toBe(400);
    const body = refused?.body as { error: { fields: Array<{ field: string }> } };
    expect(body.error.fields.map((f) => f.field)).toEqual(["callbackUrl"]);
  });
});
