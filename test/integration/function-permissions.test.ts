/**
 * The declared permissions against what the code does: a representative run of the local stack (a PNG
 * with an asset and a webhook, a large PDF request and the same served from the render cache with a
 * webhook, a URL job with a cookie, a batch from a JSONL asset
 * with a zip, template and asset uploads (an upload URL's presigning included), settings, status
 * reads, the reconciler acting on a lost and a stuck job) records every
 * AWS SDK command each function sends, and each must be allowed by that function's definition: its
 * action on that resource, and the DynamoDB partition keys or S3 object key it addressed.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICES } from "../../functions/core/observability.js";
import { FUNCTION_DEFINITIONS, type FunctionName } from "../../functions/handlers/definitions.js";
import {
  type AwsCall,
  deniedBecause,
  EVENT_SOURCE_QUEUE,
  iamActionOf,
  type Permissions,
} from "../../functions/handlers/permissions.js";
import { queueName } from "../../functions/local/aws-calls.js";
import { eventually, gate, startTestStack, type TestStack } from "./helpers/local-stack.js";

const calls: AwsCall[] = [];
const hold = gate();
/** Added to the real time by the stack's clock: the reconciler's deadlines pass without sleeping. */
let clockOffsetMs = 0;
let t: TestStack;
let receiver: Server;
let receiverUrl = "";
const deliveries: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      deliveries.push(req.url ?? "");
      // A URL job's page is a GET; webhooks are POSTs.
      if (req.method === "GET") res.writeHead(200, { "content-type": "text/html" }).end("<p>shop</p>");
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  t = await startTestStack({
    onAwsCall: (call) => calls.push(call),
    // URL jobs render the receiver's (empty) page.
    localHosts: new Map([
      ["shop.test", { address: "127.0.0.1", port: (receiver.address() as AddressInfo).port }],
    ]),
    clock: { now: () => new Date(Date.now() + clockOffsetMs) },
    // One lane: a held job keeps the next one queued, for the reconciler to find.
    workerConcurrency: 1,
    renderConcurrency: 1,
    batchSize: 1,
    batchCheckEverySeconds: 1,
    // Only the test runs the reconciler.
    reconcileEverySeconds: 3600,
    faults: {
      beforeRender: async (html) => {
        if (html.includes("data-hold")) await hold.opened;
        return undefined;
      },
    },
  });
}, 120_000);

afterAll(async () => {
  hold.open();
  await t?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

const FUNCTION_BY_SERVICE = Object.fromEntries(
  (Object.keys(FUNCTION_DEFINITIONS) as FunctionName[]).map((name) => [SERVICES[name], name]),
) as Record<string, FunctionName>;

/** The local resource each setting names, as each function's configuration has it (queues by name). */
function resourceOf(name: FunctionName): (setting: string) => string | undefined {
  const config = t.stack.functions[name].config as Record<string, unknown>;
  const eventSource: Partial<Record<FunctionName, string>> = {
    renderWorker: t.stack.queues.queueUrl,
    webhookDispatcher: t.stack.webhookQueues.queueUrl,
    batchFanOut: t.stack.batchQueues.queueUrl,
  };
  return (setting) => {
    const value = setting === EVENT_SOURCE_QUEUE ? eventSource[name] : config[setting];
    if (typeof value !== "string") return undefined;
    return /^https?:/.test(value) ? queueName(value) : value;
  };
}

const SEAL =
  '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle cx="10" cy="10" r="9" fill="#b8860b"/></svg>';

describe("every AWS call a function makes on the local stack", () => {
  it("is allowed by its definition's permissions", async () => {
    const c = t.clientA;
    // Uploads and reads of assets, templates and settings; the tenant's webhook secret.
    await c.putAsset("perm/seal.svg", Buffer.from(SEAL), "image/svg+xml");
    const records = [1, 2, 3].map((n) => JSON.stringify({ n })).join("\n");
    await c.putAsset("perm/records.jsonl", Buffer.from(`${records}\n`), "application/x-ndjson");
    // An upload URL: presigning is a PutObject the api function's role must allow (the URL acts as it).
    await c.uploadLargeAsset("perm/upload.svg", Buffer.from(SEAL), "image/svg+xml");
    const template = await c.createTemplate({
      id: "perm-card",
      html: `<body style="margin:0"><p>{{ n }}</p><img src="{{ 'seal' | asset_url }}" style="width:20px"></body>`,
    });
    await c.getTemplate("perm-card");
    await c.listTemplates();
    await c.getTemplateVersion("perm-card", template.version);
    await c.putSettings({ egress: { allowHosts: [] } });
    await c.getSettings();
    await c.getWebhookSecret();

    // A PNG of the stored template with an asset and a webhook; a PDF whose request is too large for
    // the table (kept in the payloads bucket) and a small one.
    const png = await c.submitRender({
      template: { id: "perm-card", version: template.version },
      data: { n: 1 },
      assets: { seal: "perm/seal.svg" },
      output: { format: "png", width: 60, height: 40 },
      callbackUrl: `${receiverUrl}/png`,
    });
    // Finished with an attachment read from the assets and a password, redacted in both stores once
    // the jobs end.
    const finishing = {
      attachments: [{ name: "records.jsonl", asset: "perm/records.jsonl", mimeType: "application/x-ndjson" }],
      protection: { userPassword: "perm" },
    };
    const pdf = await c.submitRender({
      template: { html: "<p>{{ filler | size }}</p>" },
      data: { filler: "x".repeat(200_000) },
      output: { format: "pdf", pdf: finishing },
    });
    const smallPdf = await c.submitRender({
      template: { html: "<p>small</p>" },
      output: { format: "pdf", pdf: finishing },
    });
    // A plain PDF the worker offers to the render cache (the finished ones above are not cacheable).
    const plain = {
      template: { html: "<p>{{ n }}</p>" },
      data: { n: 7 },
      output: { format: "pdf" as const },
    };
    const cached = await c.submitRender(plain);
    for (const id of [png.id, pdf.id, smallPdf.id, cached.id]) {
      expect((await c.waitFor(id, { timeoutMs: 60_000 })).status).toBe("succeeded");
    }
    // The plain PDF again, with a webhook: served from the render cache by the api, which queues the
    // webhook.
    const hit = await c.submitRender({ ...plain, callbackUrl: `${receiverUrl}/hit` });
    expect(hit.status).toBe("succeeded");
    expect((await c.getRender(hit.id)).cache).toBe("hit");
    // A URL job with a cookie (sealed by the api, opened by the worker) of a page on this machine.
    await c.putSettings({ egress: { allowHosts: ["shop.test"] } });
    const page = await c.submitRender({
      source: { url: "http://shop.test/", cookies: { session: "perm" } },
      output: { format: "png", width: 20, height: 20 },
    });
    expect((await c.waitFor(page.id, { timeoutMs: 60_000 })).status).toBe("succeeded");

    // A batch of a JSONL asset's records, zipped, read back page by page.
    const batch = await c.submitBatch({
      template: { id: "perm-card", version: template.version },
      assets: { seal: "perm/seal.svg" },
      recordsKey: "perm/records.jsonl",
      output: { format: "png", width: 60, height: 40 },
      zip: true,
    });
    const done = await eventually(async () => {
      const view = await c.getBatch(batch.id);
      return view.status === "succeeded" && view.zip ? view : undefined;
    }, "the batch and its zip");
    expect(done.total).toBe(3);
    await c.getBatchOutputs(batch.id);
    await eventually(async () => (deliveries.includes("/hook/png") ? true : undefined), "the webhook");
    await eventually(async () => (deliveries.includes("/hook/hit") ? true : undefined), "the hit's webhook");

    // The reconciler: a job held at the worker (stuck) and one queued behind it (its message "lost").
    const held = await c.submitRender({
      template: { html: "<p data-hold>hold</p>" },
      output: { format: "png", width: 20, height: 20 },
      callbackUrl: `${receiverUrl}/held`,
    });
    await eventually(
      async () => ((await c.getRender(held.id)).status === "rendering" ? true : undefined),
      "the held job rendering",
    );
    clockOffsetMs += 7 * 24 * 3600 * 1000;
    // No message waits in the queue: the held job, idle past every deadline, is failed.
    expect((await t.stack.reconcile()).failed).toBeGreaterThanOrEqual(1);
    const queued = await c.submitRender({
      template: { html: "<p>behind</p>" },
      output: { format: "png", width: 20, height: 20 },
    });
    clockOffsetMs += 7 * 24 * 3600 * 1000;
    // Never started, its message waiting behind the held render: it is re-enqueued.
    expect((await t.stack.reconcile()).requeued).toBeGreaterThanOrEqual(1);
    hold.open();
    await c.waitFor(queued.id, { timeoutMs: 60_000 });

    // Every function made calls, and each is allowed.
    const byFunction = new Map<string, AwsCall[]>();
    for (const call of calls) byFunction.set(call.function, [...(byFunction.get(call.function) ?? []), call]);
    expect([...byFunction.keys()].sort()).toEqual(Object.values(SERVICES).sort());
    // Each call named what it addressed (else a pattern could not have been checked).
    for (const call of calls) {
      expect(call.resource, `${call.function} ${call.command}`).not.toBe("");
      if (call.service === "dynamodb")
        expect(call.partitionKeys?.length, `${call.command}`).toBeGreaterThan(0);
      for (const key of call.partitionKeys ?? [])
        expect(key, `${call.function} ${call.command}`).not.toBe("");
      if (call.service === "s3") expect(call.objectKey, `${call.function} ${call.command}`).toMatch(/\//);
    }
    const denied = calls.flatMap((call) => {
      const name = FUNCTION_BY_SERVICE[call.function];
      if (!name) return [`${call.function}: not a Kiln function`];
      const permissions = FUNCTION_DEFINITIONS[name].permissions as Permissions;
      const why = deniedBecause(permissions, resourceOf(name), call);
      return why ? [`${call.function}: ${why}`] : [];
    });
    expect([...new Set(denied)]).toEqual([]);

    // What was exercised, per function (the run's evidence, shown on failure of the next check).
    const exercised = (fn: string) =>
      [...new Set((byFunction.get(fn) ?? []).map((call) => iamActionOf(call.service, call.command)))].sort();
    expect(exercised(SERVICES.renderWorker)).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "kms:Decrypt",
      "lambda:InvokeFunction",
      "s3:GetObject",
      "s3:PutObject",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]);
    expect(exercised(SERVICES.reconciler)).toEqual([
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "sqs:GetQueueAttributes",
      "sqs:SendMessage",
    ]);
    expect(exercised(SERVICES.signAssets)).toEqual(["secretsmanager:GetSecretValue"]);
    // The render cache: entries written by the worker, read by the api.
    const cacheCalls = calls.filter((call) => call.partitionKeys?.some((key) => key.includes("#CACHE#")));
    expect(new Set(cacheCalls.map((call) => `${call.function} ${call.command}`))).toEqual(
      new Set([`${SERVICES.renderWorker} PutItemCommand`, `${SERVICES.api} GetItemCommand`]),
    );
    // Webhook secrets: created (encrypted) by the api, read (decrypted) by the dispatcher.
    expect(exercised(SERVICES.api)).toContain("kms:Encrypt");
    expect(exercised(SERVICES.webhookDispatcher)).toContain("kms:Decrypt");
    // A URL job's cookie: encrypted by the api and decrypted by the worker under the page-secrets context.
    const pageSecretCalls = calls.filter((call) => call.encryptionContextKeys?.includes("pageSecretsTenant"));
    expect(new Set(pageSecretCalls.map((call) => `${call.function} ${call.command}`))).toEqual(
      new Set([`${SERVICES.api} EncryptCommand`, `${SERVICES.renderWorker} DecryptCommand`]),
    );
  }, 300_000);
});
