import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { powertoolsLogger } from "../../functions/adapters/powertools-logger.js";
import type { RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { verifyWebhook } from "../../functions/client/webhooks.js";
import { CORRELATION_ID_HEADER } from "../../functions/core/observability.js";
import { eventually, startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";

type Line = Record<string, unknown>;

let t: TestStack;
let receiver: Server;
let receiverUrl: string;
const raw: string[] = [];
const lines: Line[] = [];
const deliveries: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  // DEBUG, so that the lines that carry signed URLs (the signer's) are written and must be redacted.
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "DEBUG");
  const logger = powertoolsLogger({
    serviceName: "kiln-local",
    write: (line) => {
      raw.push(line);
      lines.push(JSON.parse(line) as Line);
    },
  });
  t = await startTestStack({ logger, workerConcurrency: 1 });
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
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise((resolve) => receiver?.close(resolve));
  await t?.stop();
});

const SEAL =
  '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><circle cx="10" cy="10" r="9" fill="#b8860b"/></svg>';

/** Through the client's raw request: the test reads the response's headers. */
async function submit(job: RenderSubmissionInput, headers: Record<string, string> = {}) {
  const res = await t.clientA.request<{ id: string; status: string }>("POST", "/v1/renders", {
    json: job,
    headers,
  });
  return { res, body: res.body };
}

describe("a correlation id from the API request to the worker and the webhook", () => {
  it("is echoed, stored, shown, on every line of the job's work and on the webhook delivery; no secret is logged", async () => {
    await t.clientA.putAsset("observability/seal.svg", Buffer.from(SEAL), "image/svg+xml");
    const secret = await t.clientA.getWebhookSecret();
    const correlationId = `obs-${randomUUID()}`;

    const { res, body } = await submit(
      {
        template: { html: `<img src="{{ 'seal' | asset_url }}" style="width:20px;height:20px">` },
        assets: { seal: "observability/seal.svg" },
        output: { format: "png", width: 40, height: 40 },
        callbackUrl: receiverUrl,
      },
      { [CORRELATION_ID_HEADER]: correlationId },
    );
    expect(res.status).toBe(202);
    expect(res.headers.get(CORRELATION_ID_HEADER)).toBe(correlationId);
    const { id } = body;

    const view = await t.clientA.waitFor(id, { timeoutMs: 60_000 });
    expect(view.status).toBe("succeeded");
    expect((view as unknown as { correlationId?: string }).correlationId).toBe(correlationId);

    const delivery = await eventually(
      async () => deliveries.find((d) => d.body.includes(id)),
      "the webhook delivery of the job",
    );
    expect(delivery.headers[CORRELATION_ID_HEADER]).toBe(correlationId);
    // The correlation header is outside the signature: the delivery still verifies.
    expect(verifyWebhook(secret, delivery.headers as Record<string, string>, delivery.body).data.id).toBe(id);
    await eventually(
      async () => (lines.some((l) => l.jobId === id && l.message === "webhook delivered") ? true : undefined),
      "the dispatcher's line",
    );

    // The api's line for the request.
    const queued = lines.find((l) => l.message === "job queued" && l.jobId === id);
    expect(queued).toMatchObject({ correlationId, tenant: TENANT_A.tenant, function_name: "api" });

    // Every line any function wrote about this job carries the id, the tenant and the correlation id.
    const jobLines = lines.filter((l) => l.jobId === id);
    const workerLines = jobLines.filter((l) => l.function_name === "render-worker");
    expect(workerLines.map((l) => l.message)).toEqual(
      expect.arrayContaining(["render message received", "render succeeded"]),
    );
    for (const line of jobLines) expect(line).toMatchObject({ correlationId, tenant: TENANT_A.tenant });
    expect(jobLines.filter((l) => l.function_name === "webhook-dispatcher").length).toBeGreaterThan(0);

    // The signer's DEBUG line names the signed asset (its path), but not the URL's credentials.
    const signed = raw.find(
      (line) => line.includes("urls signed") && line.includes("/assets/acme/observability/seal.svg"),
    );
    expect(signed).toBeDefined();
    expect(signed).toContain("Signature=[redacted]");

    const everything = raw.join("\n");
    expect(everything).not.toMatch(/Signature=(?!\[redacted\])/);
    expect(everything).not.toMatch(/Policy=(?!\[redacted\])/);
    expect(everything).not.toMatch(/Key-Pair-Id=(?!\[redacted\])/);
    expect(everything).not.toMatch(/whsec_(?!\[redacted\])/);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(secret.slice("whsec_".length));
    expect(everything).not.toContain(String(delivery.headers["webhook-signature"]));
    for (const { apiKey } of [TENANT_A, TENANT_B]) expect(everything).not.toContain(apiKey);
    expect(everything).not.toContain("PRIVATE KEY-----\n");
  });

  it("replaces an unusable correlation id with the request id instead of failing the request", async () => {
    const { res, body } = await submit(
      { template: { html: "<p>x</p>" }, output: { format: "png", width: 20, height: 20 } },
      { [CORRELATION_ID_HEADER]: "not ok; <script>" },
    );
    expect(res.status).toBe(202);
    const echoed = res.headers.get(CORRELATION_ID_HEADER);
    expect(echoed).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(echoed).not.toContain("script");
    const view = await t.clientA.waitFor(body.id, { timeoutMs: 60_000 });
    expect((view as unknown as { correlationId?: string }).correlationId).toBe(echoed);
    expect(raw.join("\n")).not.toContain("<script>");
  });
});
