import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateApiKey } from "../../functions/core/api-keys.js";
import { REDACTED, redact, redactText } from "../../functions/core/redaction.js";
import { generateWebhookSecret, signWebhook } from "../../functions/core/webhooks.js";

const apiKey = generateApiKey();
const webhookSecret = generateWebhookSecret();
const signature = signWebhook(webhookSecret, "msg_1", 1_700_000_000, '{"type":"render.succeeded"}');
const privateKeyPem = generateKeyPairSync("rsa", { modulusLength: 1024 })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const signedUrl =
  "https://d111.cloudfront.net/assets/acme/brand/logo.png?Expires=1795311278&Signature=AbC~dEf-123_xyz~~&Key-Pair-Id=K2JCJMDEHXQW5F";
const policyUrl =
  "https://d111.cloudfront.net/outputs/acme/abc.png?Policy=eyJTdGF0ZW1lbnQiOltdfQ__&Signature=Zm9v~YmFy&Key-Pair-Id=KXYZ";

describe("redactText", () => {
  it("keeps a signed URL's path and expiry but not its Signature, Policy or Key-Pair-Id", () => {
    const out = redactText(`fetched ${signedUrl}`);
    expect(out).toBe(
      `fetched https://d111.cloudfront.net/assets/acme/brand/logo.png?Expires=1795311278&Signature=${REDACTED}&Key-Pair-Id=${REDACTED}`,
    );
    const custom = redactText(policyUrl);
    expect(custom).toContain("/outputs/acme/abc.png?");
    expect(custom).not.toContain("eyJTdGF0ZW1lbnQiOltdfQ__");
    expect(custom).not.toContain("Zm9v~YmFy");
    expect(custom).not.toContain("KXYZ");
  });

  it("redacts several signed URLs in one string, and S3 presigned credentials", () => {
    const s3 =
      "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=deadbeef&X-Amz-Security-Token=FQoG";
    const out = redactText(`${signedUrl} and ${s3}`);
    expect(out).not.toMatch(/Signature=(?!\[redacted\])/);
    expect(out).not.toContain("AKIAEXAMPLE");
    expect(out).not.toContain("deadbeef");
    expect(out).not.toContain("FQoG");
    expect(out).toContain("X-Amz-Algorithm=AWS4-HMAC-SHA256");
  });

  it("redacts signed URLs inside HTML attributes and CSS url()", () => {
    const html = `<img src="${signedUrl}"><style>body{background:url('${policyUrl}')}</style>`;
    const out = redactText(html);
    expect(out).not.toContain("AbC~dEf-123_xyz~~");
    expect(out).not.toContain("Zm9v~YmFy");
    expect(out).toContain('"><style>');
  });

  it("redacts Kiln API keys wherever they appear", () => {
    expect(redactText(`key ${apiKey} rejected`)).toBe(`key kiln_${REDACTED} rejected`);
    expect(redactText(`"${apiKey}"`)).not.toContain(apiKey.slice(5));
  });

  it("redacts webhook secrets and Standard Webhooks signatures", () => {
    expect(redactText(`secret=${webhookSecret}`)).not.toContain(webhookSecret.slice(6));
    const out = redactText(`webhook-signature: ${signature}`);
    expect(out).not.toContain(signature.slice(3));
    // Receivers may send several space-separated signatures.
    expect(redactText(`${signature} ${signature}`)).toBe(`v1,${REDACTED} v1,${REDACTED}`);
  });

  it("redacts Authorization values and api keys named in free text", () => {
    expect(redactText("Authorization: Bearer eyJhbGciOi.payload.sig")).toBe(
      `Authorization: Bearer ${REDACTED}`,
    );
    expect(redactText("authorization=Basic dXNlcjpwYXNz")).not.toContain("dXNlcjpwYXNz");
    expect(redactText("x-api-key: acme-test-key-0001")).toBe(`x-api-key: ${REDACTED}`);
    expect(redactText('{"x-api-key":"acme-test-key-0001"}')).not.toContain("acme-test-key-0001");
    expect(
      redactText("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3, Signature=abc"),
    ).not.toContain("AKIAEXAMPLE");
  });

  it("redacts a PEM private key, also a truncated one, and keeps public keys", () => {
    const out = redactText(`loaded ${privateKeyPem.trim()} ok`);
    expect(out).toBe(`loaded ${REDACTED} private key ok`);
    const truncated = privateKeyPem.slice(0, 120);
    expect(redactText(truncated)).toBe(`${REDACTED} private key`);
    const ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----";
    expect(redactText(ec)).toBe(`${REDACTED} private key`);
    const publicKey = "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----";
    expect(redactText(publicKey)).toBe(publicKey);
  });

  it("leaves ordinary text alone", () => {
    const ordinary = [
      "render succeeded",
      "job 0b8f9a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b queued",
      "outputs/acme/3f2a.png",
      "https://hooks.example.com/kiln?tenant=acme&attempt=2",
      "the receiver answered HTTP 500",
      "signature image: brand/signature.png",
    ];
    for (const text of ordinary) expect(redactText(text)).toBe(text);
  });
});

describe("redact", () => {
  it("scrubs nested fields and arrays and keeps the shape", () => {
    const line = {
      message: `asset ${signedUrl}`,
      jobId: "j1",
      attempt: 2,
      ok: true,
      nothing: null,
      request: {
        headers: { "x-api-key": "acme-test-key-0001", Authorization: "Bearer t0k3n", accept: "*/*" },
      },
      urls: [signedUrl, { url: policyUrl }],
    };
    const out = redact(line) as typeof line;
    expect(out.jobId).toBe("j1");
    expect(out.attempt).toBe(2);
    expect(out.ok).toBe(true);
    expect(out.nothing).toBeNull();
    expect(out.request.headers).toEqual({ "x-api-key": REDACTED, Authorization: REDACTED, accept: "*/*" });
    const text = JSON.stringify(out);
    expect(text).not.toContain("AbC~dEf-123_xyz~~");
    expect(text).not.toContain("Zm9v~YmFy");
    expect(text).toContain("/assets/acme/brand/logo.png");
    // The input is not modified.
    expect(line.request.headers["x-api-key"]).toBe("acme-test-key-0001");
  });

  it("replaces values under secret field names whatever their type or spelling", () => {
    const out = redact({
      apiKey: "plain-looking-value",
      api_key: 12345,
      webhookSecret: { nested: "x" },
      privateKeyPem: "-----BEGIN",
      password: "hunter2",
      token: "abc",
      "Set-Cookie": "session=1",
      "webhook-signature": "v1,short",
      key: "outputs/acme/abc.png",
      keyPairId: "K2JCJMDEHXQW5F",
    });
    expect(out).toEqual({
      apiKey: REDACTED,
      api_key: REDACTED,
      webhookSecret: REDACTED,
      privateKeyPem: REDACTED,
      password: REDACTED,
      token: REDACTED,
      "Set-Cookie": REDACTED,
      "webhook-signature": REDACTED,
      key: "outputs/acme/abc.png",
      keyPairId: "K2JCJMDEHXQW5F",
    });
  });

  it("turns errors into plain fields, redacted, causes included", () => {
    const error = new Error(`could not fetch ${signedUrl}`, { cause: new Error(`bad key ${apiKey}`) });
    const out = redact({ error }) as {
      error: { name: string; message: string; stack: string; cause: unknown };
    };
    expect(out.error.name).toBe("Error");
    expect(out.error.message).toContain("/assets/acme/brand/logo.png");
    expect(out.error.message).not.toContain("AbC~dEf-123_xyz~~");
    expect(out.error.stack).not.toContain("AbC~dEf-123_xyz~~");
    expect(JSON.stringify(out.error.cause)).not.toContain(apiKey.slice(5));
  });

  it("cuts cycles but keeps values that are merely shared", () => {
    const shared = { note: apiKey };
    const cyclic: Record<string, unknown> = { a: shared, b: shared };
    cyclic.self = cyclic;
    const out = redact(cyclic) as Record<string, unknown>;
    expect(out.self).toBe("[circular]");
    expect(out.a).toEqual({ note: `kiln_${REDACTED}` });
    expect(out.b).toEqual({ note: `kiln_${REDACTED}` });
  });

  it("passes numbers, booleans, undefined and dates through", () => {
    expect(redact(42)).toBe(42);
    expect(redact(false)).toBe(false);
    expect(redact(undefined)).toBeUndefined();
    expect(redact(new Date("2026-01-01T00:00:00Z"))).toBe("2026-01-01T00:00:00.000Z");
    expect(redact(apiKey)).toBe(`kiln_${REDACTED}`);
  });
});
