import type { Logger, SignedUrl, UrlSigner } from "../../core/ports.js";
import { parseOrThrow } from "../../core/render-request.js";
import { SignRequestSchema } from "../../core/signing-policy.js";

export interface SignAssetsDeps {
  readonly signer: UrlSigner;
  /** @default - no logging */
  readonly logger?: Logger;
}

export interface SignAssetsResult {
  readonly urls: SignedUrl[];
}

/**
 * The signer function: `{ keys, ttlSeconds? }` in, `{ urls }` out. A bad request throws a
 * ValidationError, which the caller receives as the invocation's function error.
 */
export function makeHandler({
  signer,
  logger,
}: SignAssetsDeps): (event: unknown) => Promise<SignAssetsResult> {
  return async (event) => {
    const request = parseOrThrow(SignRequestSchema, event);
    const urls = await signer.sign(request.keys, request.ttlSeconds);
    // The loggers redact the credentials; path and expiry stay, which is what a 403 at the CDN needs.
    logger?.debug("urls signed", { urls: urls.map((u) => ({ url: u.url, expiresAt: u.expiresAt })) });
    return { urls };
  };
}
