import { generateKeyPairSync, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CloudFrontUrlSigner } from "../../functions/adapters/aws/cloudfront-url-signer.js";
import { ValidationError } from "../../functions/core/errors.js";
import type { Clock } from "../../functions/core/ports.js";
import { makeHandler } from "../../functions/handlers/sign-assets/handler.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const KEY_PAIR_ID = "KTESTKEY000001";
const BASE_URL = "https://cdn.kiln.test";
const KEY = "outputs/ab/abcdef.png";

class FixedClock implements Clock {
  constructor(public at: Date) {}
  now(): Date {
    return this.at;
  }
}

/** How Lambda reports an invocation through the api's alias. */
const API_ARN = "arn:aws:lambda:us-east-1:123456789012:function:kiln-dev-sign-assets:api";

function setup(options: { at?: string; apiTtlSeconds?: number; baseUrl?: string } = {}) {
  const clock = new FixedClock(new Date(options.at ?? "2026-11-02T10:00:10Z"));
  let keyLoads = 0;
  const signer = new CloudFrontUrlSigner({
    baseUrl: options.baseUrl ?? BASE_URL,
    keyPairId: KEY_PAIR_ID,
    privateKeyPem: async () => {
      keyLoads += 1;
      return privateKeyPem;
    },
    clock,
    defaultTtlSeconds: 300,
  });
  const raw = makeHandler({
    signer,
    callerTtls: { api: options.apiTtlSeconds ?? 300, "render-worker": 120 },
  });
  // The api's requests, for the tenant KEY belongs to, unless the event says otherwise.
  const handler = (event: unknown) =>
    raw(event !== null && typeof event === "object" ? { tenant: "ab", ...event } : event, {
      invokedFunctionArn: API_ARN,
    });
  return { clock, signer, raw, handler, keyLoads: () => keyLoads };
}

/** Checks a canned-policy URL independently of the signer library: Resource = URL minus the signing params. */
function verifyCannedUrl(url: string): { resource: string; expires: number } {
  const [resource, query] = url.split("?") as [string, string];
  const params = new URLSearchParams(query);
  expect([...params.keys()].sort()).toEqual(["Expires", "Key-Pair-Id", "Signature"]);
  expect(params.get("Key-Pair-Id")).toBe(KEY_PAIR_ID);
  const expires = Number(params.get("Expires"));
  const policy = `{"Statement":[{"Resource":"${resource}","Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`;
  const signature = Buffer.from(
    (params.get("Signature") ?? "").replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/"),
    "base64",
  );
  expect(verify("sha1", Buffer.from(policy), publicKey, signature)).toBe(true);
  return { resource, expires };
}

async function validationIssues(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues;
}

describe("sign-assets handler with the CloudFront signer", () => {
  it("returns one CloudFront canned-policy URL per key, signed over the URL it hands out", async () => {
    const { handler } = setup();
    const { urls } = await handler({ keys: [KEY, "outputs/ab/second.pdf"] });

    expect(urls.map((u) => u.key)).toEqual([KEY, "outputs/ab/second.pdf"]);
    const first = urls[0];
    expect(first).toBeDefined();
    if (!first) return;
    const { resource, expires } = verifyCannedUrl(first.url);
    expect(resource).toBe(`${BASE_URL}/${KEY}`);
    expect(new Date(expires * 1000).toISOString()).toBe(first.expiresAt);
    // 10:00:10 lies in the 300 s window starting 10:00:00; expiry is two windows on.
    expect(first.expiresAt).toBe("2026-11-02T10:10:00.000Z");
  });

  it("gives the same URL for the same key within a TTL window, and a new one in the next window", async () => {
    const { handler, clock } = setup({ at: "2026-11-02T10:00:01Z" });
    const first = await handler({ keys: [KEY] });

    clock.at = new Date("2026-11-02T10:04:59Z");
    const sameWindow = await handler({ keys: [KEY] });
    expect(sameWindow).toEqual(first);

    clock.at = new Date("2026-11-02T10:05:00Z");
    const nextWindow = await handler({ keys: [KEY] });
    expect(nextWindow.urls[0]?.url).not.toBe(first.urls[0]?.url);
    expect(nextWindow.urls[0]?.expiresAt).toBe("2026-11-02T10:15:00.000Z");
  });

  it("keeps every URL valid for at least the TTL", async () => {
    const { handler } = setup({ at: "2026-11-02T10:04:59Z" });
    const { urls } = await handler({ keys: [KEY], ttlSeconds: 300 });
    const validFor = (Date.parse(urls[0]?.expiresAt ?? "") - Date.parse("2026-11-02T10:04:59Z")) / 1000;
    expect(validFor).toBeGreaterThanOrEqual(300);
    expect(validFor).toBeLessThanOrEqual(600);
  });

  it("uses the caller's configured TTL unless the caller sends one", async () => {
    const { handler } = setup({ at: "2026-11-02T10:00:00Z", apiTtlSeconds: 900 });
    const configured = await handler({ keys: [KEY] });
    expect(configured.urls[0]?.expiresAt).toBe("2026-11-02T10:30:00.000Z");

    const explicit = await handler({ keys: [KEY], ttlSeconds: 60 });
    expect(explicit.urls[0]?.expiresAt).toBe("2026-11-02T10:02:00.000Z");
  });

  it("signs keys with URL-safe punctuation exactly as they appear in the URL", async () => {
    const { handler } = setup({ baseUrl: "https://cdn.kiln.test/prefix/" });
    const key = "outputs/ab/it's(1)!*.png";
    const { urls } = await handler({ keys: [key] });
    const { resource } = verifyCannedUrl(urls[0]?.url ?? "");
    expect(resource).toBe(`https://cdn.kiln.test/prefix/${key}`);
    expect(new URL(resource).pathname).toBe(`/prefix/${key}`);
  });

  it("loads the private key through the provider on each call, so the provider decides caching", async () => {
    const { handler, keyLoads } = setup();
    await handler({ keys: [KEY] });
    await handler({ keys: [KEY] });
    expect(keyLoads()).toBe(2);
  });

  it("rejects a key that could escape its path, naming keys.0", async () => {
    const { handler, keyLoads } = setup();
    for (const bad of ["../secrets.pem", "/outputs/a.png", "outputs//a.png", "outputs/a b.png", ""]) {
      const issues = await validationIssues(handler({ keys: [bad] }));
      expect(new Set(issues.map((i) => i.field))).toEqual(new Set(["keys.0"]));
    }
    expect(keyLoads()).toBe(0);
  });

  it("names the offending index among several keys", async () => {
    const { handler } = setup();
    const issues = await validationIssues(handler({ keys: [KEY, "outputs/ab/../x"] }));
    expect(issues.map((i) => i.field)).toEqual(["keys.1"]);
  });

  it("accepts TTLs from 30 s to one hour and rejects anything else, naming ttlSeconds", async () => {
    const { handler } = setup({ apiTtlSeconds: 3600 });
    await expect(handler({ keys: [KEY], ttlSeconds: 30 })).resolves.toBeDefined();
    await expect(handler({ keys: [KEY], ttlSeconds: 3600 })).resolves.toBeDefined();
    for (const ttlSeconds of [29, 3601, 0, -5, 120.5, "300"]) {
      const issues = await validationIssues(handler({ keys: [KEY], ttlSeconds }));
      expect(issues.map((i) => i.field)).toEqual(["ttlSeconds"]);
    }
  });

  it("rejects a malformed event: missing keys, empty keys, too many keys, unknown fields", async () => {
    const { handler } = setup();
    expect((await validationIssues(handler({}))).map((i) => i.field)).toEqual(["keys"]);
    expect((await validationIssues(handler({ keys: [] }))).map((i) => i.field)).toEqual(["keys"]);
    const tooMany = Array.from({ length: 101 }, (_, i) => `outputs/ab/${i}.png`);
    expect((await validationIssues(handler({ keys: tooMany }))).map((i) => i.field)).toEqual(["keys"]);
    expect((await validationIssues(handler({ keys: [KEY], bucket: "x" }))).map((i) => i.field)).toEqual([
      "bucket",
    ]);
    await expect(handler(null)).rejects.toBeInstanceOf(ValidationError);
  });

  it("validates keys when the signer is used directly too", async () => {
    const { signer } = setup();
    const issues = await validationIssues(signer.sign(["../etc/passwd"], 300));
    expect(issues.map((i) => i.field)).toEqual(["keys.0"]);
  });

  it("refuses a base URL that is not an absolute http(s) URL", () => {
    const make = (baseUrl: string) => () => setup({ baseUrl });
    expect(make("cdn.kiln.test")).toThrow(/not an absolute URL/);
    expect(make("ftp://cdn.kiln.test")).toThrow(/http\(s\)/);
    expect(make("https://cdn.kiln.test/?a=1")).toThrow(/query/);
  });
});

describe("sign-assets handler: the caller's policy", () => {
  const arn = (qualifier?: string) =>
    `arn:aws:lambda:us-east-1:123456789012:function:kiln-dev-sign-assets${qualifier ? `:${qualifier}` : ""}`;

  it("signs for the worker only its tenant's assets, for at most its TTL", async () => {
    const { raw } = setup({ at: "2026-11-02T10:00:00Z" });
    const worker = { invokedFunctionArn: arn("render-worker") };
    const { urls } = await raw({ tenant: "acme", keys: ["assets/acme/logo.png"], ttlSeconds: 120 }, worker);
    expect(verifyCannedUrl(urls[0]?.url ?? "").resource).toBe(`${BASE_URL}/assets/acme/logo.png`);

    const refused = await validationIssues(
      raw(
        {
          tenant: "acme",
          keys: ["assets/acme/ok.png", "assets/other/logo.png", "outputs/acme/x.png", "assets/acme-x/y.png"],
          ttlSeconds: 121,
        },
        worker,
      ),
    );
    expect(refused.map((i) => i.field)).toEqual(["keys.1", "keys.2", "keys.3", "ttlSeconds"]);
    expect(refused[0]?.message).toContain("assets/other/logo.png");
  });

  it("refuses an invocation that came through no caller alias, before reading the key", async () => {
    const { raw, keyLoads } = setup();
    const event = { tenant: "ab", keys: [KEY] };
    for (const invokedFunctionArn of [arn(), arn("7"), arn("$LATEST"), arn("admin"), ""]) {
      const error = await raw(event, { invokedFunctionArn }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: "UnknownSignerCallerError", code: "unknown_signer_caller" });
    }
    await expect(raw(event)).rejects.toMatchObject({ code: "unknown_signer_caller" });
    expect(keyLoads()).toBe(0);
  });
});
