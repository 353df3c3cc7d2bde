/**
 * Webhook secrets on the local stack (real stand-ins, the KMS one included, real Chromium): a rotation
 * keeps the replaced secret signing deliveries until its overlap ends, the new one signs from the
 * start, and what the jobs table holds is ciphertext. Time moves through the stack's injected clock.
 */
import { stat } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { webhookSecretItemKey } from "../../functions/adapters/aws/jobs-table.js";
import { verifyWebhook } from "../../functions/client/webhooks.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { eventually, startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

const DAY_MS = 24 * 3600_000;
/** How far the stack's clock is ahead of the real one. */
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };

let t: TestStack;
let receiver: Server;
let receiverUrl = "";
const deliveries: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  t = await startTestStack({ clock });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/kiln`;
});

afterAll(async () => {
  await t?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** Renders a small job with a callback and answers its delivery as the receiver got it. */
async function deliveryOfNewJob(): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  const { id } = await t.clientA.submitRender({
    template: { html: "<p>{{ n }}</p>" },
    data: { n: deliveries.length },
    output: { format: "png", width: 40, height: 20 },
    callbackUrl: receiverUrl,
  });
  return eventually(
    async () => deliveries.find((d) => (JSON.parse(d.body) as { data: { id: string } }).data.id === id),
    `the webhook of job ${id}`,
  );
}

/**
 * The verified job id, or the verifier's error message. Kiln's client verifier and the Standard
 * Webhooks reference library must agree; the reference reads the time from Date, so it runs at the
 * stack's clock for the length of the (synchronous) call.
 */
function verify(secret: string, delivery: { headers: IncomingHttpHeaders; body: string }): string {
  const headers = delivery.headers as Record<string, string>;
  let reference: string;
  vi.useFakeTimers({ toFake: ["Date"], now: clock.now() });
  try {
    reference = (new Webhook(secret).verify(delivery.body, headers) as { data: { id: string } }).data.id;
  } catch (err) {
    reference = `refused by the reference verifier: ${(err as Error).message}`;
  } finally {
    vi.useRealTimers();
  }
  let kiln: string;
  try {
    kiln = verifyWebhook(secret, headers, delivery.body, { nowMs: clock.now().getTime() }).data.id;
  } catch (err) {
    kiln = (err as Error).message;
  }
  if (/^[0-9a-f-]{36}$/.test(kiln) !== /^[0-9a-f-]{36}$/.test(reference)) {
    throw new Error(`the verifiers disagree: Kiln says "${kiln}", the reference "${reference}"`);
  }
  return kiln;
}

describe("webhook secret rotation on the local stack", () => {
  it("signs with the old and the new secret during the overlap, then with the new one alone", async () => {
    const old = await t.clientA.getWebhookSecret();
    const before = await deliveryOfNewJob();
    expect(String(before.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(verify(old, before)).toMatch(/^[0-9a-f-]{36}$/);

    const rotatedAt = clock.now().getTime();
    const rotated = await t.clientA.rotateWebhookSecret();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(old);
    // The api function's default overlap: 24 hours from the rotation.
    const expiresAt = Date.parse(String(rotated.previousSecretExpiresAt));
    expect(expiresAt - rotatedAt).toBeGreaterThanOrEqual(DAY_MS - 5000);
    expect(expiresAt - rotatedAt).toBeLessThanOrEqual(DAY_MS + 5000);
    expect(await t.clientA.getWebhookSecret()).toBe(rotated.secret);
    // The other tenant's secret is untouched.
    expect(await t.clientB.getWebhookSecret()).not.toBe(rotated.secret);

    const during = await deliveryOfNewJob();
    expect(String(during.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    const duringId = verify(rotated.secret, during);
    expect(duringId).toMatch(/^[0-9a-f-]{36}$/);
    expect(verify(old, during)).toBe(duringId);

    // An hour before the overlap ends, both still sign.
    offsetMs = expiresAt - Date.now() - 3600_000;
    const late = await deliveryOfNewJob();
    expect(verify(old, late)).toBe(verify(rotated.secret, late));

    // Once it has ended, only the new secret signs, and the old one is refused.
    offsetMs = expiresAt - Date.now() + 60_000;
    const after = await deliveryOfNewJob();
    expect(String(after.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(verify(rotated.secret, after)).toMatch(/^[0-9a-f-]{36}$/);
    expect(verify(old, after)).toMatch(/no signature matches/);
    const { body } = await t.clientA.request<Record<string, unknown>>("GET", "/v1/webhooks/secret");
    expect(body).toEqual({ secret: rotated.secret, scheme: "standard-webhooks-v1" });
  });

  it("keeps only ciphertext in the jobs table, under a key made in the data dir", async () => {
    await t.clientA.rotateWebhookSecret();
    const current = await t.clientA.getWebhookSecret();
    const { body } = await t.clientA.request<{ previousSecretExpiresAt?: string }>(
      "GET",
      "/v1/webhooks/secret",
    );
    expect(body.previousSecretExpiresAt).toBeDefined();

    const dynamodb = new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb));
    try {
      const key = webhookSecretItemKey(TENANT_A.tenant);
      const { Item } = await dynamodb.send(
        new GetItemCommand({
          TableName: t.stack.names.jobsTable,
          Key: { pk: { S: String(key.pk) }, sk: { S: String(key.sk) } },
          ConsistentRead: true,
        }),
      );
      expect(Item).toBeDefined();
      expect(Item).not.toHaveProperty("secret");
      expect(Item?.current?.M?.ciphertext?.B).toBeInstanceOf(Uint8Array);
      expect(Item?.previous?.M?.ciphertext?.B).toBeInstanceOf(Uint8Array);
      // Neither the secret's text nor its key bytes appear anywhere in the item, however encoded.
      const raw = JSON.stringify(Item, (_k, v) =>
        v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v,
      );
      const keyBytes = Buffer.from(current.slice("whsec_".length), "base64");
      for (const needle of [current, current.slice("whsec_".length), keyBytes.toString("latin1")]) {
        expect(raw.includes(needle)).toBe(false);
      }
    } finally {
      dynamodb.destroy();
    }
    const keyFile = await stat(join(t.dataDir, "keys", "webhook-secrets.key"));
    expect(keyFile.mode & 0o777).toBe(0o600);
  });
});
