import type { SignedUrl, UrlSigner } from "../../core/ports.js";
import { parseOrThrow } from "../../core/render-request.js";
import { SignRequestSchema } from "../../core/signing-policy.js";

export interface SignAssetsDeps {
  readonly signer: UrlSigner;
}

export interface SignAssetsResult {
  readonly urls: SignedUrl[];
}

/**
 * The signer function: `{ keys, ttlSeconds? }` in, `{ urls }` out. A bad request throws a
 * ValidationError, which the caller receives as the invocation's function error.
 */
export function makeHandler({ signer }: SignAssetsDeps): (event: unknown) => Promise<SignAssetsResult> {
  return async (event) => {
    const request = parseOrThrow(SignRequestSchema, event);
    return { urls: await signer.sign(request.keys, request.ttlSeconds) };
  };
}
