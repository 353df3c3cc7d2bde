import { describe, expect, it } from "vitest";
import type { Connector, UpstreamRequest } from "../../functions/adapters/http/pinned-connect.js";
import { PinnedWebhookSender } from "../../functions/adapters/http/pinned-webhook-sender.js";
import {
  FixedClock,
  MemoryJobStore,
  MemoryWebhookQueue,
  MemoryWebhookSecretStore,
  RecordingWebhookSender,
} from "../../functions/adapters/memory/memory-ports.js";
import { deliverWebhook } from "../../functions/core/deliver-webhook.js";
import {
  CallbackRefusedError,
  type CallbackUrlPolicy,
  callbackAddressProblem,
  callbackUrlProblem,
} from "../../functions/core/webhooks.js";
import { jobAwaitingWebhook } from "./support/jobs.js";

const PUBLIC_ONLY: CallbackUrlPolicy = { schemes: ["https"] };
const LOCAL: CallbackUrlPolicy = { schemes: ["http", "https"], hosts: ["127.0.0.1", "localhost"] };

describe("callbackAddressProblem", () => {
  it("lets a host through when every address it resolves to is public", () => {
    expect(callbackAddressProblem("hooks.example.com", ["93.184.215.14"], PUBLIC_ONLY)).toBeUndefined();
    expect(
      callbackAddressProblem(
        "hooks.example.com",
        ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14"],
        PUBLIC_ONLY,
      ),
    ).toBeUndefined();
  });

  it.each([
    ["127.0.0.1", /resolves to 127\.0\.0\.1, and 127\.0\.0\.1 is a loopback address/],
    ["169.254.169.254", /169\.254\.169\.254 is a link-local address \(cloud metadata/],
    ["10.20.30.40", /10\.20\.30\.40 is a private address/],
    ["::1", /::1 is the loopback address/],
    ["::ffff:7f00:1", /IPv4-mapped form of 127\.0\.0\.1 is a loopback address/],
    ["fd00:ec2::254", /unique local address/],
    ["64:ff9b::a9fe:a9fe", /NAT64 form of 169\.254\.169\.254/],
  ])("refuses a name that resolves to %s", (address, reason) => {
    expect(callbackAddressProblem("hooks.tenant.test", [address], PUBLIC_ONLY)).toMatch(reason);
  });

  it("refuses when any one of several addresses is internal, wherever it is in the answer", () => {
    const problem = callbackAddressProblem("hooks.tenant.test", ["93.184.215.14", "10.0.0.7"], PUBLIC_ONLY);
    expect(problem).toBe("host hooks.tenant.test resolves to 10.0.0.7, and 10.0.0.7 is a private address");
  });

  it("judges an IP literal host by itself", () => {
    expect(callbackAddressProblem("[2002:a9fe:a9fe::1]", ["2002:a9fe:a9fe::1"], PUBLIC_ONLY)).toMatch(
      /^host 2002:a9fe:a9fe::1 is a 6to4 form of 169\.254\.169\.254/,
    );
  });

  it("trusts a host the policy lists explicitly, as the local stack lists 127.0.0.1 and localhost", () => {
    expect(callbackAddressProblem("localhost", ["::1", "127.0.0.1"], LOCAL)).toBeUndefined();
    expect(callbackAddressProblem("127.0.0.1", ["127.0.0.1"], LOCAL)).toBeUndefined();
    expect(callbackAddressProblem("hooks.tenant.test", ["127.0.0.1"], LOCAL)).toMatch(/loopback/);
  });
});

describe("callbackUrlProblem with the address classifier", () => {
  it.each([
    "https://[2002:7f00:1::1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://198.18.0.1/hook",
    "https://224.0.0.1/hook",
  ])("refuses the internal literal %s at submit", (url) => {
    expect(callbackUrlProblem(url, PUBLIC_ONLY)).toMatch(/is not a public address/);
  });

  it("still accepts a public literal and a public name", () => {
    expect(callbackUrlProblem("https://93.184.215.14/hook", PUBLIC_ONLY)).toBeUndefined();
    expect(callbackUrlProblem("https://hooks.example.com/hook", PUBLIC_ONLY)).toBeUndefined();
  });
});

function deliverySetup(callbackUrl = "https://hooks.tenant.test/k") {
  const jobs = new MemoryJobStore();
  const queue = new MemoryWebhookQueue();
  const sender = new RecordingWebhookSender();
  jobs.jobs.set("t/j1", jobAwaitingWebhook({ callbackUrl }));
  const deps = {
    jobs,
    secrets: new MemoryWebhookSecretStore(),
    queue,
    sender,
    clock: new FixedClock(new Date("2026-01-01T00:00:10Z")),
    policy: PUBLIC_ONLY,
    schedule: { delaysSeconds: [5, 600], windowSeconds: 3600 },
    timeoutMs: 1000,
  };
  return { deps, jobs, queue, sender };
}

describe("deliverWebhook and the sender's refusals", () => {
  it("records a refused address as a failed delivery with the reason, and schedules no retry", async () => {
    const { deps, jobs, queue, sender } = deliverySetup();
    sender.responses = [
      new CallbackRefusedError(
        "host hooks.tenant.test resolves to 127.0.0.1, and 127.0.0.1 is a loopback address",
      ),
    ];
    const result = await deliverWebhook(deps, { tenant: "t", jobId: "j1", attempt: 1 });
    expect(result).toEqual({
      outcome: "gave-up",
      error:
        "callbackUrl is not allowed: host hooks.tenant.test resolves to 127.0.0.1, and 127.0.0.1 is a loopback address",
    });
    expect(queue.messages).toEqual([]);
    const webhook = (await jobs.get("t", "j1"))?.webhook;
    expect(webhook?.state).toBe("failed");
    expect(webhook?.nextAttemptAt).toBeUndefined();
    expect(webhook?.attempts).toHaveLength(1);
    expect(webhook?.attempts[0]?.status).toBeUndefined();
    expect(webhook?.attempts[0]?.error).toMatch(/resolves to 127\.0\.0\.1/);
    // A redelivered message of the refused attempt does not try again.
    expect(await deliverWebhook(deps, { tenant: "t", jobId: "j1", attempt: 2 })).toEqual({
      outcome: "skipped",
      reason: "the webhook is already failed",
    });
    expect(sender.requests).toHaveLength(1);
  });

  it("counts a redirect as a failed attempt that says redirects are not followed", async () => {
    const { deps, jobs, queue, sender } = deliverySetup();
    sender.responses = [302];
    const result = await deliverWebhook(deps, { tenant: "t", jobId: "j1", attempt: 1 });
    expect(result).toMatchObject({ outcome: "scheduled", nextAttempt: 2 });
    expect(queue.messages).toHaveLength(1);
    const attempt = (await jobs.get("t", "j1"))?.webhook?.attempts[0];
    expect(attempt).toMatchObject({
      status: 302,
      error: "the receiver answered HTTP 302; redirects are not followed",
    });
  });

  it("keeps an ordinary network failure retryable", async () => {
    const { deps, jobs, sender } = deliverySetup();
    sender.responses = [new Error("connect ECONNREFUSED 93.184.215.14:443")];
    const result = await deliverWebhook(deps, { tenant: "t", jobId: "j1", attempt: 1 });
    expect(result).toMatchObject({ outcome: "scheduled" });
    expect((await jobs.get("t", "j1"))?.webhook?.state).toBe("retrying");
  });
});

/** A connector that records what it was asked and answers from `answers` (an Error is thrown). */
function recordingConnector(answers: Array<number | Error> = []) {
  const requests: UpstreamRequest[] = [];
  const connect: Connector = async (request) => {
    requests.push(request);
    const next = answers.shift() ?? 204;
    if (next instanceof Error) throw next;
    return { status: next, headers: {}, body: Buffer.alloc(0) };
  };
  return { requests, connect };
}

function countingResolver(answers: Record<string, readonly string[]>) {
  const lookups: string[] = [];
  const resolve = async (host: string) => {
    lookups.push(host);
    return answers[host] ?? [];
  };
  return { lookups, resolve };
}

const post = (sender: PinnedWebhookSender, url: string) =>
  sender.post(url, { "content-type": "application/json" }, '{"a":1}', 1000);

describe("PinnedWebhookSender", () => {
  it("resolves once and connects to the checked address, keeping the name in the URL for Host and SNI", async () => {
    const { lookups, resolve } = countingResolver({ "hooks.example.com": ["93.184.215.14"] });
    const { requests, connect } = recordingConnector([204]);
    const sender = new PinnedWebhookSender({ policy: PUBLIC_ONLY, resolve, connect });
    expect(await post(sender, "https://hooks.example.com/k?x=1")).toEqual({ status: 204 });
    expect(lookups).toEqual(["hooks.example.com"]);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.address).toBe("93.184.215.14");
    expect(requests[0]?.url.href).toBe("https://hooks.example.com/k?x=1");
    expect(requests[0]?.method).toBe("POST");
    expect(requests[0]?.headers).toEqual({ "content-type": "application/json", "content-length": "7" });
    expect(requests[0]?.body?.toString("utf8")).toBe('{"a":1}');
  });

  it("refuses a name that resolves to an internal address without connecting", async () => {
    const { resolve } = countingResolver({ "hooks.tenant.test": ["93.184.215.14", "169.254.169.254"] });
    const { requests, connect } = recordingConnector();
    const sender = new PinnedWebhookSender({ policy: PUBLIC_ONLY, resolve, connect });
    const refused = post(sender, "https://hooks.tenant.test/k");
    await expect(refused).rejects.toBeInstanceOf(CallbackRefusedError);
    await expect(refused).rejects.toThrow(/hooks\.tenant\.test resolves to 169\.254\.169\.254/);
    expect(requests).toEqual([]);
  });

  it("judges an IP literal without a lookup", async () => {
    const { lookups, resolve } = countingResolver({});
    const { requests, connect } = recordingConnector();
    const sender = new PinnedWebhookSender({ policy: PUBLIC_ONLY, resolve, connect });
    await expect(post(sender, "https://[::ffff:a9fe:a9fe]/k")).rejects.toBeInstanceOf(CallbackRefusedError);
    expect(await post(sender, "https://93.184.215.14/k")).toEqual({ status: 204 });
    expect(lookups).toEqual([]);
    expect(requests.map((r) => r.address)).toEqual(["93.184.215.14"]);
  });

  it("delivers to a host the policy lists, wherever it resolves", async () => {
    const { resolve } = countingResolver({ localhost: ["127.0.0.1"] });
    const { requests, connect } = recordingConnector([200]);
    const sender = new PinnedWebhookSender({ policy: LOCAL, resolve, connect });
    expect(await post(sender, "http://localhost:8080/k")).toEqual({ status: 200 });
    expect(requests[0]?.address).toBe("127.0.0.1");
  });

  it("tries the next checked address only when one cannot be reached", async () => {
    const { resolve } = countingResolver({ localhost: ["::1", "127.0.0.1"] });
    const refusedConnection = Object.assign(new Error("connect ECONNREFUSED ::1:8080"), {
      code: "ECONNREFUSED",
    });
    const { requests, connect } = recordingConnector([refusedConnection, 204]);
    const sender = new PinnedWebhookSender({ policy: LOCAL, resolve, connect });
    expect(await post(sender, "http://localhost:8080/k")).toEqual({ status: 204 });
    expect(requests.map((r) => r.address)).toEqual(["::1", "127.0.0.1"]);

    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const second = recordingConnector([reset, 204]);
    const strict = new PinnedWebhookSender({ policy: LOCAL, resolve, connect: second.connect });
    await expect(post(strict, "http://localhost:8080/k")).rejects.toThrow("socket hang up");
    expect(second.requests).toHaveLength(1);
  });

  it("fails, without refusing, a name that resolves to nothing", async () => {
    const { resolve } = countingResolver({});
    const sender = new PinnedWebhookSender({
      policy: PUBLIC_ONLY,
      resolve,
      connect: recordingConnector().connect,
    });
    const failed = post(sender, "https://nowhere.example.com/k");
    await expect(failed).rejects.toThrow("host nowhere.example.com has no addresses");
    await expect(failed).rejects.not.toBeInstanceOf(CallbackRefusedError);
  });
});
