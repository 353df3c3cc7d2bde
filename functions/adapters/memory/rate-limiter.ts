import type { Clock, RateLimiter } from "../../core/ports.js";
import { type RateLimit, type TokenBucket, takeToken } from "../../core/rate-limit.js";

/**
 * Token buckets kept in this process, one per tenant: the local stack's stand-in for API Gateway's
 * usage-plan throttling. Per process, like API Gateway's own limits are per region and best effort.
 */
export class InProcessRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {}

  async take(tenant: string) {
    const decision = takeToken(this.limit, this.#buckets.get(tenant), this.clock.now().getTime());
    this.#buckets.set(tenant, decision.bucket);
    return decision.allowed
      ? { allowed: true as const }
      : { allowed: false as const, retryAfterSeconds: decision.retryAfterSeconds, limit: this.limit };
  }
}
