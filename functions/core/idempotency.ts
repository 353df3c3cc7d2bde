import { IDEMPOTENCY } from "./constants.js";
import { IdempotencyConflictError } from "./errors.js";
import type { IdempotencyStore } from "./ports.js";

/**
 * Claims an Idempotency-Key for `proposedId`, or finds the id an earlier submission with the key
 * holds. The same key with a different request (fingerprint) is a conflict. `claimed` false means an
 * earlier submission holds the id: the caller returns what it created, or finishes it if it died
 * before creating it.
 */
export async function claimIdempotencyKey(
  store: IdempotencyStore,
  tenant: string,
  key: string,
  fingerprint: string,
  proposedId: string,
  now: Date,
): Promise<{ readonly id: string; readonly claimed: boolean }> {
  const { record, claimed } = await store.claim(
    tenant,
    {
      key,
      fingerprint,
      jobId: proposedId,
      createdAt: now.toISOString(),
      expiresAtMs: now.getTime() + IDEMPOTENCY.ttlSeconds * 1000,
    },
    now,
  );
  if (record.fingerprint !== fingerprint) throw new IdempotencyConflictError(key, record.jobId);
  return { id: record.jobId, claimed };
}
