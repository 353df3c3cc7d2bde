/**
 * Per-tenant request rate limits as token buckets: a tenant may send `burst` requests at once, and
 * the bucket refills at `perSecond` requests per second. Pure arithmetic on an injected time, so the
 * same math serves any store of buckets.
 */

export interface RateLimit {
  /** Steady-state requests per second. */
  readonly perSecond: number;
  /** Requests allowed at once; the bucket's capacity. */
  readonly burst: number;
}

export interface TokenBucket {
  readonly tokens: number;
  readonly updatedAtMs: number;
}

export type RateDecision =
  | { readonly allowed: true; readonly bucket: TokenBucket }
  | {
      readonly allowed: false;
      readonly bucket: TokenBucket;
      /** Whole seconds until a request would be allowed again (at least 1, as Retry-After needs). */
      readonly retryAfterSeconds: number;
    };

/** A full bucket: a tenant's first requests may use the whole burst. */
function fullBucket(limit: RateLimit, nowMs: number): TokenBucket {
  return { tokens: limit.burst, updatedAtMs: nowMs };
}

/**
 * Refills `bucket` for the time since it was last updated and takes one token if there is one.
 * A clock that went backwards refills nothing rather than draining the bucket.
 */
export function takeToken(limit: RateLimit, bucket: TokenBucket | undefined, nowMs: number): RateDecision {
  const current = bucket ?? fullBucket(limit, nowMs);
  const elapsedMs = Math.max(0, nowMs - current.updatedAtMs);
  const tokens = Math.min(limit.burst, current.tokens + (elapsedMs / 1000) * limit.perSecond);
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, updatedAtMs: nowMs } };
  const secondsToNextToken = (1 - tokens) / limit.perSecond;
  return {
    allowed: false,
    bucket: { tokens, updatedAtMs: nowMs },
    retryAfterSeconds: Math.max(1, Math.ceil(secondsToNextToken)),
  };
}

/** `20 requests per second with bursts of 40`: how a 429 names the limit. */
export function describeRateLimit(limit: RateLimit): string {
  const requests = limit.perSecond === 1 ? "request" : "requests";
  return `${limit.perSecond} ${requests} per second with bursts of ${limit.burst}`;
}

/**
 * Parses `20/s`, `20/s,burst=40` or `off`. Without a burst, the burst is twice the rate (at least 1).
 * Undefined means no limit; a malformed value throws a sentence that says what to write.
 */
export function parseRateLimit(text: string): RateLimit | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "off" || trimmed === "") return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*\/\s*s(?:\s*,\s*burst\s*=\s*(\d+))?$/.exec(trimmed);
  const perSecond = Number(match?.[1]);
  const burst = match?.[2] === undefined ? Math.max(1, Math.ceil(perSecond * 2)) : Number(match[2]);
  if (!match || !(perSecond > 0) || !Number.isFinite(perSecond) || !(burst >= 1)) {
    throw new Error(
      `Rate limit "${text}" is not understood: write requests per second and an optional burst, e.g. "20/s,burst=40", or "off".`,
    );
  }
  return { perSecond, burst };
}
