import { z } from "zod";
import { TENANT_NAME } from "./api-keys.js";
import { ASSETS } from "./assets.js";
import { OUTPUTS } from "./constants.js";
import { KilnError, ValidationError } from "./errors.js";

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

/**
 * The longest a URL minted with `ttlSeconds` stays valid: twice the TTL, because expiries are aligned
 * to windows (`signedUrlExpiry`). A retired signing key must stay trusted at least this long.
 */
export function longestUrlLifetimeSeconds(ttlSeconds: number): number {
  return 2 * ttlSeconds;
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

/** Bounds of any signed URL's TTL; each caller is capped lower by its own limit. */
export const SIGNED_URL_TTL_BOUNDS = { min: 30, max: 3600 } as const;

/** What the key holder signs: keys that cannot escape their path, and a TTL within the bounds. */
export const SignKeysSchema = z.strictObject({
  keys: z.array(ObjectKeySchema).min(1).max(100),
  /** When absent, the caller's TTL applies. */
  ttlSeconds: z.int().min(SIGNED_URL_TTL_BOUNDS.min).max(SIGNED_URL_TTL_BOUNDS.max).optional(),
});

/** A request to the signer function. */
export const SignRequestSchema = SignKeysSchema.extend({
  /** Whose objects: every key must lie in this tenant's prefixes for the caller. */
  tenant: z.string().regex(TENANT_NAME, "must be a tenant name (letters, digits, _ or -, at most 64)"),
});
export type SignRequest = z.output<typeof SignRequestSchema>;

/**
 * Who may invoke the signer, each through its own Lambda alias (the qualifier of the invoked ARN), on
 * which IAM grants that caller alone invoke: the identity comes from IAM, not from the request.
 */
export const SIGNING_CALLERS = ["api", "render-worker"] as const;
export type SigningCaller = (typeof SIGNING_CALLERS)[number];

/**
 * What each caller signs, under the request's tenant: the api hands out outputs (a job's output, a
 * batch's manifest, zip and outputs); the worker has the assets a template names signed at render time.
 */
export const CALLER_PREFIXES: Readonly<Record<SigningCaller, readonly string[]>> = {
  api: [OUTPUTS.keyPrefix],
  "render-worker": [ASSETS.keyPrefix],
};

/** The longest TTL each caller may get; a request without a TTL gets exactly this. */
export type CallerTtls = Readonly<Record<SigningCaller, number>>;

/** An invocation that did not come through a caller's alias: no policy applies, so nothing is signed. */
export class UnknownSignerCallerError extends KilnError {
  constructor(invokedFunctionArn: string) {
    super(
      "unauthorized",
      "unknown_signer_caller",
      `The signer was invoked as ${invokedFunctionArn || "(no ARN)"}, which names no caller alias: invoke it through one of ${SIGNING_CALLERS.map((c) => `:${c}`).join(", ")}.`,
    );
    this.name = "UnknownSignerCallerError";
  }
}

/** The caller, from the qualifier of the ARN Lambda reports as invoked (`…:function:<name>:<alias>`). */
export function signingCallerOf(invokedFunctionArn: string | undefined): SigningCaller {
  const parts = (invokedFunctionArn ?? "").split(":");
  const qualifier = parts[5] === "function" && parts.length === 8 ? parts[7] : undefined;
  const caller = SIGNING_CALLERS.find((c) => c === qualifier);
  if (!caller) throw new UnknownSignerCallerError(invokedFunctionArn ?? "");
  return caller;
}

/**
 * Applies the caller's policy to a parsed request: every key must lie under one of the caller's
 * prefixes for the request's tenant, and the TTL may not exceed the caller's. Returns the TTL to sign
 * with; throws a ValidationError naming each key (and the TTL) it refuses.
 */
export function authorizeSignRequest(caller: SigningCaller, request: SignRequest, ttls: CallerTtls): number {
  const maxTtl = ttls[caller];
  const allowed = CALLER_PREFIXES[caller].map((prefix) => `${prefix}${request.tenant}/`);
  const issues = request.keys.flatMap((key, i) =>
    allowed.some((prefix) => key.startsWith(prefix))
      ? []
      : [
          {
            field: `keys.${i}`,
            message: `${key} is outside what ${caller} may have signed for tenant ${request.tenant} (${allowed.join(", ")})`,
          },
        ],
  );
  if (request.ttlSeconds !== undefined && request.ttlSeconds > maxTtl) {
    issues.push({
      field: "ttlSeconds",
      message: `${request.ttlSeconds} exceeds the ${maxTtl} s that ${caller} may have URLs signed for`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return request.ttlSeconds ?? maxTtl;
}
