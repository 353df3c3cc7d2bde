import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  EchoRenderer,
  FixedClock,
  MemoryIdempotencyStore,
  MemoryJobStore,
  MemoryObjectStore,
  MemoryPayloadStore,
  MemoryRenderQueue,
  MemoryWebhookQueue,
} from "../../functions/adapters/memory/memory-ports.js";
import { MemoryTenantSettingsStore } from "../../functions/adapters/memory/memory-tenant-settings-store.js";
import { decideEgress } from "../../functions/core/egress-policy.js";
import type { SecretCipher } from "../../functions/core/ports.js";
import { renderJob } from "../../functions/core/render-job.js";
import { RenderSubmissionSchema, toFieldIssues } from "../../functions/core/render-request.js";
import { submitRender } from "../../functions/core/submit-render.js";
import { pageSettingsIssues } from "../../functions/core/url-source.js";
import { parseLocalHosts } from "../../functions/local/local-hosts.js";

/** Keeps plaintexts by an opaque handle, and gives them back only to the tenant they were sealed for. */
class HandleCipher implements SecretCipher {
  readonly sealed = new Map<string, { tenant: string; plaintext: string }>();
  async encrypt(tenant: string, plaintext: string): Promise<Uint8Array> {
    const handle = randomUUID();
    this.sealed.set(handle, { tenant, plaintext });
    return new TextEncoder().encode(handle);
  }
  async decrypt(tenant: string, ciphertext: Uint8Array): Promise<string> {
    const entry = this.sealed.get(new TextDecoder().decode(ciphertext));
    if (!entry || entry.tenant !== tenant) throw new Error("does not decrypt");
    return entry.plaintext;
  }
}

const issuesOf = (body: unknown) => {
  const parsed = RenderSubmissionSchema.safeParse(body);
  return parsed.success ? [] : toFieldIssues(parsed.error);
};
const fields = (body: unknown) => issuesOf(body).map((i) => i.field);

const PNG = { format: "png" } as const;

describe("a URL job's request", () => {
  it("takes a source instead of a template, with headers and cookies", () => {
    expect(
      issuesOf({
        source: { url: "https://shop.example.com/a?b=1", headers: { "X-Token": "t" }, cookies: { s: "v" } },
        output: PNG,
        emulateMedia: "print",
      }),
    ).toEqual([]);
  });

  it("names the field: neither or both of template and source, data or assets with a source", () => {
    expect(fields({ output: PNG })).toEqual(["template"]);
    expect(
      fields({ source: { url: "https://a.example.com/" }, template: { html: "x" }, output: PNG }),
    ).toEqual(["source"]);
    expect(fields({ source: { url: "https://a.example.com/" }, data: { a: 1 }, output: PNG })).toEqual([
      "data",
    ]);
    expect(
      fields({ source: { url: "https://a.example.com/" }, assets: { a: "logo.png" }, output: PNG }),
    ).toEqual(["assets"]);
    expect(fields({ source: { url: "https://a.example.com/" }, emulateMedia: "tv", output: PNG })).toEqual([
      "emulateMedia",
    ]);
  });

  it.each([
    ["ftp://a.example.com/", "must be an https URL"],
    ["https://169.254.169.254/", "not an IP address"],
    ["https://[::1]/", "not an IP address"],
    ["https://localhost/", "the machine itself"],
    ["https://user:secret@a.example.com/", "must not carry credentials"],
    ["/relative", "absolute"],
  ])("refuses the URL %s", (url, message) => {
    const issues = issuesOf({ source: { url }, output: PNG });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ field: "source.url" });
    expect(issues[0]?.message).toContain(message);
  });

  it("refuses headers Kiln sets itself, bad names and values, and secrets too large to seal", () => {
    const url = "https://a.example.com/";
    expect(fields({ source: { url, headers: { Cookie: "a=b" } }, output: PNG })).toEqual([
      "source.headers.Cookie",
    ]);
    expect(fields({ source: { url, headers: { Host: "x" } }, output: PNG })).toEqual(["source.headers.Host"]);
    expect(fields({ source: { url, headers: { "X-A": "1\r\nX-B: 2" } }, output: PNG })).toEqual([
      "source.headers.X-A",
    ]);
    expect(fields({ source: { url, cookies: { s: "a;b" } }, output: PNG })).toEqual(["source.cookies.s"]);
    expect(fields({ source: { url, cookies: { "a b": "v" } }, output: PNG })).toEqual(["source.cookies.a b"]);
    const big = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`c${i}`, "v".repeat(1000)]));
    expect(fields({ source: { url, cookies: big }, output: PNG })).toEqual(["source.headers"]);
  });
});

describe("a URL job's secrets", () => {
  function pipeline() {
    const clock = new FixedClock();
    const jobs = new MemoryJobStore();
    const cipher = new HandleCipher();
    const settings = new MemoryTenantSettingsStore();
    const renderer = new EchoRenderer();
    const submit = {
      jobs,
      queue: new MemoryRenderQueue(),
      payloads: new MemoryPayloadStore(),
      idempotency: new MemoryIdempotencyStore(),
      clock,
      newId: () => "j1",
      pageSecrets: cipher,
    };
    const render = {
      jobs,
      renderer,
      outputs: new MemoryObjectStore(),
      payloads: submit.payloads,
      webhooks: new MemoryWebhookQueue(),
      clock,
      settings,
      pageSecrets: cipher,
      lease: { leaseMs: 60_000, renewEveryMs: 60_000 },
      retry: { baseSeconds: 1, maxSeconds: 1 },
    };
    return { submit, render, jobs, cipher, renderer, settings, clock };
  }

  const submission = RenderSubmissionSchema.parse({
    source: {
      url: "https://shop.example.com/cart",
      headers: { "X-Token": "tok-1" },
      cookies: { s: "cookie-1" },
    },
    output: PNG,
  });

  it("are sealed before the request is stored, and the worker renders with them decrypted", async () => {
    const p = pipeline();
    await submitRender(p.submit, "acme", submission, "key-1");
    const stored = JSON.stringify(await p.jobs.getRequest("acme", "j1"));
    expect(stored).not.toContain("tok-1");
    expect(stored).not.toContain("cookie-1");
    expect(stored).toContain("sealedSecrets");
    // The same body again is the same job: the fingerprint is of what the client sent.
    expect((await submitRender(p.submit, "acme", submission, "key-1")).replayed).toBe(true);

    const result = await renderJob(
      p.render,
      { tenant: "acme", jobId: "j1" },
      { receiveCount: 1, maxReceiveCount: 4 },
    );
    expect(result).toMatchObject({ outcome: "done", status: "succeeded" });
    expect(JSON.parse(p.renderer.calls[0]?.html ?? "{}")).toEqual({
      url: "https://shop.example.com/cart",
      headers: { "X-Token": "tok-1" },
      cookies: { s: "cookie-1" },
    });
    const job = await p.jobs.get("acme", "j1");
    expect(job?.output?.document?.url).toBe("https://shop.example.com/cart");
    expect(JSON.stringify(job)).not.toContain("tok-1");
  });

  it("fail the job with JavaScript asked on a host the tenant's settings do not name", async () => {
    const p = pipeline();
    await submitRender(p.submit, "acme", { ...submission, javascript: true });
    const message = { tenant: "acme", jobId: "j1" };
    expect(await renderJob(p.render, message, { receiveCount: 1, maxReceiveCount: 4 })).toMatchObject({
      status: "failed",
      code: "javascript_not_allowed",
    });
    expect(p.renderer.calls).toEqual([]);
  });
});

describe("a URL job against its tenant's settings at submission", () => {
  const source = { url: "https://shop.example.com/cart" };
  const settings = (allowHosts: string[], javascriptHosts?: string[]) => ({
    egress: { allowHosts },
    ...(javascriptHosts ? { urlJobs: { javascriptHosts } } : {}),
  });

  it("names source.url for a host not allowlisted, and javascript for a host whose scripts may not run", () => {
    expect(pageSettingsIssues({ source }, settings(["*.example.com"]))).toEqual([]);
    expect(pageSettingsIssues({ source }, undefined)).toEqual([
      {
        field: "source.url",
        message: expect.stringContaining("shop.example.com is not in the tenant's egress.allowHosts"),
      },
    ]);
    expect(pageSettingsIssues({ source, javascript: true }, settings(["shop.example.com"]))).toEqual([
      { field: "javascript", message: expect.stringContaining("urlJobs.javascriptHosts") },
    ]);
    expect(
      pageSettingsIssues({ source, javascript: true }, settings(["shop.example.com"], ["shop.example.com"])),
    ).toEqual([]);
    expect(pageSettingsIssues({ javascript: true }, undefined)).toEqual([]);
  });
});

describe("KILN_LOCAL_HOSTS", () => {
  const policy = (allowHosts: string[]) => ({
    allowedOrigins: [],
    allowHosts,
    dataUrlMaxBytes: 1024,
    localHosts: ["shop.test"],
  });

  it("maps names to an address and port, refusing anything else", () => {
    expect(parseLocalHosts("shop.test=127.0.0.1:8080, cdn.test=[::1]:9000")).toEqual(
      new Map([
        ["shop.test", { address: "127.0.0.1", port: 8080 }],
        ["cdn.test", { address: "::1", port: 9000 }],
      ]),
    );
    expect(() => parseLocalHosts("shop.test=127.0.0.1")).toThrow(/KILN_LOCAL_HOSTS entry/);
    expect(() => parseLocalHosts("shop.test=shop:80")).toThrow(/KILN_LOCAL_HOSTS entry/);
    expect(() => parseLocalHosts("app.localhost=127.0.0.1:80")).toThrow(/must not name localhost/);
    expect(() => parseLocalHosts("*.test=127.0.0.1:80")).toThrow(/KILN_LOCAL_HOSTS name/);
  });

  it("lets a mapped name be reached over http once allowlisted; no other name, and no address", () => {
    expect(decideEgress("http://shop.test/a", policy(["shop.test"]))).toMatchObject({
      verdict: "network",
      trusted: true,
    });
    expect(decideEgress("http://shop.test/a", policy([]))).toMatchObject({ verdict: "blocked" });
    expect(decideEgress("http://other.test/a", policy(["other.test"]))).toMatchObject({ verdict: "blocked" });
    expect(decideEgress("http://127.0.0.1:8080/a", policy(["shop.test"]))).toMatchObject({
      verdict: "blocked",
    });
  });
});
