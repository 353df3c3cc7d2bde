import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PinnedWebhookSender } from "../../functions/adapters/http/pinned-webhook-sender.js";
import { CallbackRefusedError } from "../../functions/core/webhooks.js";
import { eventually, startTestStack, type TestStack } from "./helpers/local-stack.js";

/** A receiver on 127.0.0.1 that records every request and answers it with `answer` (204 by default). */
async function startReceiver(answer: (res: ServerResponse) => void = (res) => res.writeHead(204).end()) {
  const requests: Array<{ headers: IncomingHttpHeaders; body: Buffer; url: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks), url: req.url ?? "" });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    requests,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Public-looking names for the receivers; every lookup is counted. */
const lookups: string[] = [];
const resolve = async (host: string): Promise<readonly string[]> => {
  lookups.push(host);
  if (host.endsWith(".test")) return ["127.0.0.1"];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
};

describe("webhook sender against real receivers", () => {
  const receivers: Receiver[] = [];
  const receiver = async (answer?: Parameters<typeof startReceiver>[0]) => {
    const r = await startReceiver(answer);
    receivers.push(r);
    return r;
  };
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("connects to the resolved address of a listed host, names the host, and looks it up once", async () => {
    const hook = await receiver();
    const sender = new PinnedWebhookSender({
      policy: { schemes: ["http"], hosts: ["hooks.allowed.test"] },
      resolve,
    });
    lookups.length = 0;
    const result = await sender.post(
      `http://hooks.allowed.test:${hook.port}/kiln?tenant=acme`,
      { "content-type": "application/json", "webhook-id": "evt_1" },
      '{"type":"render.succeeded"}',
      5000,
    );
    expect(result).toEqual({ status: 204 });
    expect(lookups).toEqual(["hooks.allowed.test"]);
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]?.headers.host).toBe(`hooks.allowed.test:${hook.port}`);
    expect(hook.requests[0]?.headers["webhook-id"]).toBe("evt_1");
    expect(hook.requests[0]?.url).toBe("/kiln?tenant=acme");
    expect(hook.requests[0]?.body.toString("utf8")).toBe('{"type":"render.succeeded"}');
  });

  it("refuses a public-looking name that resolves to loopback and sends nothing", async () => {
    const hook = await receiver();
    const sender = new PinnedWebhookSender({ policy: { schemes: ["http"] }, resolve });
    const refused = sender.post(`http://hooks.tenant.test:${hook.port}/kiln`, {}, "{}", 5000);
    await expect(refused).rejects.toBeInstanceOf(CallbackRefusedError);
    await expect(refused).rejects.toThrow(
      "host hooks.tenant.test resolves to 127.0.0.1, and 127.0.0.1 is a loopback address",
    );
    expect(hook.requests).toHaveLength(0);
  });

  it("hands a redirect back as it is, without following it", async () => {
    const elsewhere = await receiver();
    const moved = await receiver((res) =>
      res.writeHead(307, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end(),
    );
    const sender = new PinnedWebhookSender({ policy: { schemes: ["http"], hosts: ["127.0.0.1"] }, resolve });
    const result = await sender.post(`http://127.0.0.1:${moved.port}/kiln`, {}, "{}", 5000);
    expect(result).toEqual({ status: 307 });
    expect(moved.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });
});

describe("webhook dispatcher of the local stack with a policy that does not allow loopback", () => {
  let t: TestStack;
  let hook: Receiver;
  const stackLookups: string[] = [];

  beforeAll(async () => {
    hook = await startReceiver();
    t = await startTestStack({
      callbackPolicy: { schemes: ["http"] },
      webhookEgress: {
        resolve: async (host) => {
          stackLookups.push(host);
          return host === "hooks.tenant.test" ? ["127.0.0.1"] : [];
        },
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
    await hook?.close();
  });

  it("records the refused delivery on the job, once, and the receiver hears nothing", async () => {
    const submitted = await t.clientA.submitRender({
      template: { html: "<!doctype html><p>{{ text }}</p>" },
      data: { text: "hook" },
      output: { format: "png", width: 120, height: 60 },
      callbackUrl: `http://hooks.tenant.test:${hook.port}/kiln`,
    });
    const view = await eventually(async () => {
      const v = await t.clientA.getRender(submitted.id);
      return v.webhook?.state === "failed" || v.webhook?.state === "delivered" ? v : undefined;
    }, "the webhook of the job to end");
    expect(view.webhook?.state).toBe("failed");
    expect(view.status).toBe("succeeded");
    expect(view.webhook?.attempts).toHaveLength(1);
    expect(view.webhook?.attempts[0]?.status).toBeUndefined();
    expect(view.webhook?.attempts[0]?.error).toBe(
      "callbackUrl is not allowed: host hooks.tenant.test resolves to 127.0.0.1, and 127.0.0.1 is a loopback address",
    );
    expect(view.webhook?.nextAttemptAt).toBeUndefined();
    expect(stackLookups).toEqual(["hooks.tenant.test"]);
    expect(hook.requests).toHaveLength(0);
  });

  it("still refuses a loopback literal at submit", async () => {
    const submit = t.clientA.submitRender({
      template: { html: "<p>x</p>" },
      data: {},
      output: { format: "png", width: 10, height: 10 },
      callbackUrl: `http://127.0.0.1:${hook.port}/kiln`,
    });
    await expect(submit).rejects.toMatchObject({ status: 400 });
    expect(hook.requests).toHaveLength(0);
  });
});

// The allowed local case (callbacks to http://127.0.0.1 under the local stack's default policy) is
// delivered in reliability.test.ts.
