import { z } from "zod";

/**
 * Expiry of a signed URL minted at `now`. Aligned to TTL windows so that the same key signed twice in
 * one window yields the same URL, which lets browsers and the CDN reuse it; every URL minted stays
 * valid for at least `ttlSeconds` (and at most twice that).
 */
export function signedUrlExpiry(now: Date, ttlSeconds: number): Date {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const windowStart = nowSeconds - (nowSeconds % ttlSeconds);
  return new Date((windowStart + 2 * ttlSeconds) * 1000);
}

/** An object key that can be put in a URL path as is: no traversal, no leading slash. */
export const ObjectKeySchema = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z0-9!_.*'()\-/]+$/, "may contain only letters, digits and !_.*'()-/")
  .refine((k) => !k.startsWith("/") && !k.split("/").some((s) => s === "" || s === "." || s === ".."), {
    message: "must be a relative path without empty, '.' or '..' segments",
  });

export const SignRequestSchema = z.strictObject({
  keys: z.array(ObjectKeySchema).min(1).max(100),
  /** When absent, the signer's configured TTL applies. */
  ttlSeconds: z.int().min(30).max(3600).optional(),
});
export type SignRequest = z.output<typeof SignRequestSchema>;
