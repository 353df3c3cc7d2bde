import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import type { Clock, SignedUrl } from "../../core/ports.js";
import { parseOrThrow } from "../../core/render-request.js";
import { SignKeysSchema, signedUrlExpiry } from "../../core/signing-policy.js";

export interface CloudFrontUrlSignerOptions {
  /** Distribution base URL, e.g. `https://d111111abcdef8.cloudfront.net`; a path prefix is kept. */
  readonly baseUrl: string;
  /** Id of the CloudFront public key whose private half signs, e.g. `K2JCJMDEHXQW5F`. */
  readonly keyPairId: string;
  /** Loads the PEM private key; called on every `sign`, so it should memoise. */
  readonly privateKeyPem: () => Promise<string>;
  readonly clock: Clock;
  /** TTL used when `sign` is called without one. */
  readonly defaultTtlSeconds: number;
}

/**
 * The key holder, inside the signer function (which decides what a caller may have signed): mints
 * CloudFront signed URLs with a canned policy. Expiries are aligned to TTL windows
 * (`signedUrlExpiry`), so signing one key twice within a window yields the same URL and the
 * browser and CDN caches keep working.
 */
export class CloudFrontUrlSigner {
  private readonly baseUrl: string;

  constructor(private readonly options: CloudFrontUrlSignerOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.baseUrl);
    } catch {
      throw new Error(`CloudFrontUrlSigner: baseUrl "${options.baseUrl}" is not an absolute URL.`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      throw new Error(`CloudFrontUrlSigner: baseUrl must be an http(s) URL, got "${options.baseUrl}".`);
    }
    if (parsed.search || parsed.hash) {
      throw new Error(
        `CloudFrontUrlSigner: baseUrl must not carry a query or fragment: "${options.baseUrl}".`,
      );
    }
    if (!options.keyPairId) throw new Error("CloudFrontUrlSigner: keyPairId must not be empty.");
    this.baseUrl = `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
  }

  async sign(keys: readonly string[], ttlSeconds?: number): Promise<SignedUrl[]> {
    // Validated here too: a key that escapes its path (`..`, `//`) must never get a signature.
    const request = parseOrThrow(SignKeysSchema, { keys, ttlSeconds });
    const privateKey = await this.options.privateKeyPem();
    const expiry = signedUrlExpiry(
      this.options.clock.now(),
      request.ttlSeconds ?? this.options.defaultTtlSeconds,
    );
    const expiresAt = expiry.toISOString();
    return request.keys.map((key) => ({
      key,
      url: getSignedUrl({
        url: `${this.baseUrl}/${encodeObjectKey(key)}`,
        keyPairId: this.options.keyPairId,
        privateKey,
        dateLessThan: expiry,
      }),
      expiresAt,
    }));
  }
}

/**
 * Percent-encodes each path segment exactly as the signer library does (`encodeURIComponent`), so
 * the signed Resource, the URL handed out and the request line the edge sees are the same bytes.
 */
export function encodeObjectKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}
