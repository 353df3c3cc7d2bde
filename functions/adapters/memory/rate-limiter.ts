import type { Clock, RateLimiter } from "../../core/ports.js";
import { type RateLimit, type TokenBucket, takeToken } from "../../core/rate-limit.js";

/** A tenant's own limit (its tier's), or undefined for the limiter's default. */
export type TenantLimitLookup = (tenant: string) => Promise<RateLimit | undefined>;

/** How long a tenant's looked-up limit is used before it is looked up again. */
const TENANT_LIMIT_TTL_MS = 30_000;

/**
 * Token buckets kept in this process, one per tenant: the local stack's stand-in for API Gateway's
 * usage-plan throttling. Per process, like API Gateway's own limits are per region and best effort.
 * With `tenantLimit`, a tenant whose tier is stored gets its tier's limit, as its key's usage plan
 * would give it on AWS; the others get `limit`.
 */
export class InProcessRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #limits = new Map<string, { readonly limit: RateLimit; readonly untilMs: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
    private readonly tenantLimit?: TenantLimitLookup,
  ) {}

  async take(tenant: string) {
    const nowMs = this.clock.now().getTime();
    const limit = await this.limitOf(tenant, nowMs);
    const decision = takeToken(limit, this.#buckets.get(tenant), nowMs);
    this.#buckets.set(tenant, decision.bucket);
    return decision.allowed
      ? { allowed: true as const }
      : { allowed: false as const, retryAfterSeconds: decision.retryAfterSeconds, limit };
  }

  private async limitOf(tenant: string, nowMs: number): Promise<RateLimit> {
    if (!this.tenantLimit) return this.limit;
    const kept = this.#limits.get(tenant);
    if (kept && kept.untilMs > nowMs) return kept.limit;
    const limit = (await this.tenantLimit(tenant)) ?? this.limit;
    this.#limits.set(tenant, { limit, untilMs: nowMs + TENANT_LIMIT_TTL_MS });
    return limit;
  }
}
