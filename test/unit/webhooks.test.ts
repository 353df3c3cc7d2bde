import { describe, expect, it } from "vitest";
import { verifyWebhook, WebhookVerificationError } from "../../functions/client/webhooks.js";
import type { Job } from "../../functions/core/job.js";
import {
  callbackPolicyFrom,
  callbackUrlProblem,
  DEFAULT_WEBHOOK_SCHEDULE,
  generateWebhookSecret,
  nextWebhookDelaySeconds,
  previousSecretExpiry,
  rotateWebhookSecrets,
  signedWebhookRequest,
  signingSecrets,
  signWebhook,
} from "../../functions/core/webhooks.js";

const job: Job = {
  tenant: "t",
  id: "0b8f9a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
  status: "succeeded",
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:02.000Z",
  attempts: 1,
  output: { key: "outputs/t/abc.png", contentType: "image/png", bytes: 42, sha256: "abc" },
  callbackUrl: "https://hooks.example.com/k",
};

describe("webhook signatures", () => {
  it("match the Standard Webhooks reference vector", () => {
    // From the Standard Webhooks specification's test suite.
    expect(
      signWebhook(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
      ),
    ).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("verify for receivers: the event comes back; a wrong secret, an altered body or an old timestamp throw", () => {
    const secret = generateWebhookSecret();
    const now = new Date("2026-01-01T00:00:05Z");
    const { headers, body } = signedWebhookRequest(secret, job, now);
    expect(headers["webhook-id"]).toBe(`evt_${job.id}`);
    expect(headers["webhook-timestamp"]).toBe(String(now.getTime() / 1000));

    const event = verifyWebhook(secret, headers, body, { nowMs: now.getTime() + 10_000 });
    expect(event).toMatchObject({
      type: "render.succeeded",
      webhookId: `evt_${job.id}`,
      data: { id: job.id, status: "succeeded", output: { sha256: "abc", bytes: 42 } },
    });
    expect(JSON.parse(body).data).not.toHaveProperty("output.key");

    const at = { nowMs: now.getTime() };
    expect(() => verifyWebhook(generateWebhookSecret(), headers, body, at)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(secret, headers, body.replace("42", "43"), at)).toThrow(
      /no signature matches/,
    );
    expect(() => verifyWebhook(secret, headers, body, { nowMs: now.getTime() + 301_000 })).toThrow(/300 s/);
    const { "webhook-signature": _, ...unsigned } = headers;
    expect(() => verifyWebhook(secret, unsigned, body, at)).toThrow(/missing/);
    // One valid signature among several (a rotation) is enough; Fetch Headers work as well.
    const rotated = new Headers({
      ...headers,
      "webhook-signature": `v1,AAAA ${headers["webhook-signature"]}`,
    });
    expect(verifyWebhook(secret, rotated, Buffer.from(body), at).data.id).toBe(job.id);
  });

  it("report a failed job's error", () => {
    const failed: Job = {
      ...job,
      status: "failed",
      output: undefined,
      error: { code: "template_error", message: "x" },
    };
    const { body } = signedWebhookRequest(generateWebhookSecret(), failed, new Date());
    expect(JSON.parse(body)).toMatchObject({
      type: "render.failed",
      data: { status: "failed", error: { code: "template_error", message: "x" } },
    });
  });
});

describe("webhook secret rotation", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const later = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

  it("keeps the replaced secret signing, after the new one, until the overlap ends; then only the new one", () => {
    const first = { current: generateWebhookSecret() };
    const fresh = generateWebhookSecret();
    const rotated = rotateWebhookSecrets(first, fresh, t0, 3600);
    expect(rotated).toEqual({
      current: fresh,
      previous: { secret: first.current, expiresAt: "2026-01-01T01:00:00.000Z" },
    });
    expect(signingSecrets(rotated, later(3599))).toEqual([fresh, first.current]);
    expect(previousSecretExpiry(rotated, later(3599))).toBe("2026-01-01T01:00:00.000Z");
    expect(signingSecrets(rotated, later(3600))).toEqual([fresh]);
    expect(previousSecretExpiry(rotated, later(3600))).toBeUndefined();
  });

  it("drops the replaced secret at once with no overlap, and the older one on a second rotation", () => {
    const first = { current: generateWebhookSecret() };
    expect(rotateWebhookSecrets(first, "whsec_new", t0, 0)).toEqual({ current: "whsec_new" });
    expect(rotateWebhookSecrets(undefined, "whsec_new", t0, 3600)).toEqual({ current: "whsec_new" });
    const second = rotateWebhookSecrets(first, "whsec_b", t0, 3600);
    const third = rotateWebhookSecrets(second, "whsec_c", later(10), 3600);
    expect(signingSecrets(third, later(11))).toEqual(["whsec_c", "whsec_b"]);
  });

  it("signs with every secret given, space-separated, and a receiver with either one verifies", () => {
    const [fresh, old] = [generateWebhookSecret(), generateWebhookSecret()];
    const now = new Date("2026-01-01T00:00:05Z");
    const { headers, body } = signedWebhookRequest([fresh, old], job, now);
    const signatures = headers["webhook-signature"]?.split(" ") ?? [];
    expect(signatures).toHaveLength(2);
    expect(signatures[0]).toBe(signWebhook(fresh, headers["webhook-id"] ?? "", now.getTime() / 1000, body));
    const at = { nowMs: now.getTime() };
    expect(verifyWebhook(fresh, headers, body, at).data.id).toBe(job.id);
    expect(verifyWebhook(old, headers, body, at).data.id).toBe(job.id);
    expect(() => verifyWebhook(generateWebhookSecret(), headers, body, at)).toThrow(/no signature matches/);
  });
});

describe("callback URL policy", () => {
  it("allows https to public hosts by default and only the listed hosts when there is a list", () => {
    const deployed = callbackPolicyFrom(undefined, undefined);
    expect(callbackUrlProblem("https://hooks.example.com/a", deployed)).toBeUndefined();
    expect(callbackUrlProblem("http://hooks.example.com/a", deployed)).toMatch(/must use https/);
    for (const host of ["127.0.0.1", "localhost", "169.254.169.254", "192.168.1.1", "[::1]", "[fd00::1]"]) {
      expect(callbackUrlProblem(`https://${host}/a`, deployed), host).toMatch(/not a public address/);
    }
    const local = callbackPolicyFrom("http,https", "127.0.0.1");
    expect(callbackUrlProblem("http://127.0.0.1:8080/hook", local)).toBeUndefined();
    expect(callbackUrlProblem("http://example.com/hook", local)).toMatch(/not one of 127.0.0.1/);
  });
});

describe("webhook retry schedule", () => {
  it("retries at 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and gives up after 24 h", () => {
    const start = 0;
    let now = start;
    const delays: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const delay = nextWebhookDelaySeconds(DEFAULT_WEBHOOK_SCHEDULE, attempt, start, now);
      if (delay === undefined) break;
      delays.push(delay);
      now += delay * 1000;
    }
    expect(delays).toEqual([5, 300, 1800, 7200, 18_000, 36_000]);
    expect(now).toBeLessThanOrEqual(24 * 3600 * 1000);
  });
});
