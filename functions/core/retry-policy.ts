import { isPermanent } from "./errors.js";

/** How long a transiently failed message waits before its next delivery. */
export interface RetryPolicy {
  /** Wait after the first failed delivery; doubles with each further one. */
  readonly baseSeconds: number;
  /** Upper bound of one wait. */
  readonly maxSeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseSeconds: 5, maxSeconds: 300 };

/**
 * Exponential backoff with "equal jitter": half the wait is fixed, half random, so retries of jobs
 * that failed together (one browser crash fails every page on it) spread out instead of returning
 * as a herd, while none comes back at once.
 */
export function retryDelaySeconds(
  policy: RetryPolicy,
  receiveCount: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.max(0, receiveCount - 1));
  return Math.max(0, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/** Retries of one store call inside an attempt, before the attempt itself is given up. */
export interface StoreRetry {
  readonly attempts: number;
  readonly baseDelayMs: number;
}

export const DEFAULT_STORE_RETRY: StoreRetry = { attempts: 4, baseDelayMs: 50 };

/**
 * Runs a store call again after a failure (a throttle, a 5xx, a dropped connection), with backoff and
 * jitter. The calls it wraps are safe to repeat: conditional writes whose stores recognise a repeat of
 * a write that had applied, and puts of content-addressed objects.
 */
export async function withStoreRetry<T>(
  call: () => Promise<T>,
  retry: StoreRetry = DEFAULT_STORE_RETRY,
  random: () => number = Math.random,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= retry.attempts || isPermanent(err)) throw err;
      const ceiling = retry.baseDelayMs * 2 ** (attempt - 1);
      await new Promise((r) => setTimeout(r, ceiling / 2 + (random() * ceiling) / 2));
    }
  }
}
