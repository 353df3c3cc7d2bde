import { describe, expect, it } from "vitest";
import { FixedClock } from "../../functions/adapters/memory/memory-ports.js";
import { InProcessRateLimiter } from "../../functions/adapters/memory/rate-limiter.js";
import {
  describeRateLimit,
  parseRateLimit,
  type RateLimit,
  type TokenBucket,
  takeToken,
} from "../../functions/core/rate-limit.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { apiEvent, KEY_A, KEY_B, memoryApiDeps } from "./support/api.js";

const LIMIT: RateLimit = { perSecond: 2, burst: 4 };

/** Takes `n` tokens at `nowMs`, threading the bucket through; returns how many were allowed. */
function takeMany(n: number, bucket: TokenBucket | undefined, nowMs: number) {
  let current = bucket;
  let allowed = 0;
  let last: ReturnType<typeof takeToken> | undefined;
  for (let i = 0; i < n; i++) {
    last = takeToken(LIMIT, current, nowMs);
    current = last.bucket;
    if (last.allowed) allowed++;
  }
  return { allowed, bucket: current, last };
}

describe("token bucket", () => {
  it("allows a full burst at once, then refuses with the whole seconds until the next token", () => {
    const { allowed, bucket, last } = takeMany(5, undefined, 0);
    expect(allowed).toBe(4);
    expect(last).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(bucket?.tokens).toBe(0);
  });

  it("refills at the rate: half a second at 2/s gives exactly one more request", () => {
    const drained = takeMany(4, undefined, 0).bucket;
    expect(takeMany(2, drained, 500).allowed).toBe(1);
    expect(takeMany(3, drained, 1_000).allowed).toBe(2);
  });

  it("never refills beyond the burst however long the tenant was quiet", () => {
    const drained = takeMany(4, undefined, 0).bucket;
    expect(takeMany(10, drained, 3_600_000).allowed).toBe(LIMIT.burst);
  });

  it("rounds Retry-After up to whole seconds for slow rates", () => {
    const slow: RateLimit = { perSecond: 0.25, burst: 1 };
    const first = takeToken(slow, undefined, 0);
    const second = takeToken(slow, first.bucket, 1_000);
    // 0.25 of a token after 1 s: 0.75 more need 3 s.
    expect(second).toMatchObject({ allowed: false, retryAfterSeconds: 3 });
  });

  it("refills nothing when the clock goes backwards", () => {
    const drained = takeMany(4, undefined, 10_000).bucket;
    expect(takeToken(LIMIT, drained, 5_000).allowed).toBe(false);
  });
});

describe("rate limit settings", () => {
  it("parses requests per second with an optional burst, and off", () => {
    expect(parseRateLimit("20/s,burst=40")).toEqual({ perSecond: 20, burst: 40 });
    expect(parseRateLimit(" 5 / s ")).toEqual({ perSecond: 5, burst: 10 });
    expect(parseRateLimit("0.5/s")).toEqual({ perSecond: 0.5, burst: 1 });
    expect(parseRateLimit("off")).toBeUndefined();
  });

  it("refuses what it does not understand with a sentence saying what to write", () => {
    for (const bad of ["20", "0/s", "-1/s", "20/m", "20/s,burst=0", "lots"]) {
      expect(() => parseRateLimit(bad)).toThrow(/e\.g\. "20\/s,burst=40"/);
    }
  });

  it("names the limit in words", () => {
    expect(describeRateLimit({ perSecond: 20, burst: 40 })).toBe("20 requests per second with bursts of 40");
  });
});

describe("api handler with a rate limiter", () => {
  const keys = { a: KEY_A, b: KEY_B };
  function setup() {
    const clock = new FixedClock();
    const handler = makeHandler(
      memoryApiDeps({ clock, rateLimiter: new InProcessRateLimiter({ perSecond: 1, burst: 2 }, clock) }),
    );
    return { handler, clock };
  }
  const get = (key?: string) =>
    apiEvent({ httpMethod: "GET", path: "/v1/webhooks/secret", headers: key ? { "x-api-key": key } : {} });

  it("answers 429 rate_limited with Retry-After and the limit once a tenant's burst is used, other tenants unaffected", async () => {
    const { handler, clock } = setup();
    expect((await handler(get(keys.a))).statusCode).toBe(200);
    expect((await handler(get(keys.a))).statusCode).toBe(200);
    const refused = await handler(get(keys.a));
    expect(refused.statusCode).toBe(429);
    expect(refused.headers?.["retry-after"]).toBe("1");
    expect(JSON.parse(refused.body)).toEqual({
      error: {
        code: "rate_limited",
        message: expect.stringContaining("1 request per second with bursts of 2"),
      },
    });
    expect((await handler(get(keys.b))).statusCode).toBe(200);
    clock.advance(1_000);
    expect((await handler(get(keys.a))).statusCode).toBe(200);
  });

  it("does not count requests without a valid key against anyone", async () => {
    const { handler } = setup();
    for (let i = 0; i < 5; i++) expect((await handler(get("wrong-key-123"))).statusCode).toBe(401);
    expect((await handler(get(keys.a))).statusCode).toBe(200);
  });
});
