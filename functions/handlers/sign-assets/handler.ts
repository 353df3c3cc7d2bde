import type { Logger, SignedUrl } from "../../core/ports.js";
import { parseOrThrow } from "../../core/render-request.js";
import {
  authorizeSignRequest,
  type CallerTtls,
  SignRequestSchema,
  signingCallerOf,
} from "../../core/signing-policy.js";

/** The key holder: signs whatever it is given (CloudFrontUrlSigner); the handler decides what that is. */
export interface KeySigner {
  sign(keys: readonly string[], ttlSeconds: number): Promise<SignedUrl[]>;
}

export interface SignAssetsDeps {
  readonly signer: KeySigner;
  /** The longest TTL each caller may get, and what it gets when it asks for none. */
  readonly callerTtls: CallerTtls;
  /** @default - no logging */
  readonly logger?: Logger;
}

export interface SignAssetsResult {
  readonly urls: SignedUrl[];
}

/** The part of Lambda's context the signer reads: which alias it was invoked through. */
export interface InvocationContext {
  readonly invokedFunctionArn: string;
}

/**
 * The signer function: `{ tenant, keys, ttlSeconds? }` in, `{ urls }` out. The caller is the alias it was
 * invoked through (IAM lets each caller invoke only its own), and its policy decides which of the
 * tenant's keys it may have signed and for how long. A bad or refused request throws (a ValidationError
 * names each key), which the caller receives as the invocation's function error.
 */
export function makeHandler({
  signer,
  callerTtls,
  logger,
}: SignAssetsDeps): (event: unknown, context?: InvocationContext) => Promise<SignAssetsResult> {
  return async (event, context) => {
    const caller = signingCallerOf(context?.invokedFunctionArn);
    const request = parseOrThrow(SignRequestSchema, event);
    const ttlSeconds = authorizeSignRequest(caller, request, callerTtls);
    const urls = await signer.sign(request.keys, ttlSeconds);
    // The loggers redact the credentials; path and expiry stay, which is what a 403 at the CDN needs.
    logger?.debug("urls signed", {
      caller,
      tenant: request.tenant,
      urls: urls.map((u) => ({ url: u.url, expiresAt: u.expiresAt })),
    });
    return { urls };
  };
}
