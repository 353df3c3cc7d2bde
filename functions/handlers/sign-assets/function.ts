/**
 * The signer function, described once: see function-definition.ts. It is the only function that can
 * read the URL-signing private key. Its adapters are wired in wire.ts.
 */
import { z } from "zod";
import { ENV, SIGNED_URL_DEFAULT_TTL_SECONDS } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { SIGNED_URL_TTL_BOUNDS } from "../../core/signing-policy.js";
import { defineFunction, resource, setting } from "../function-definition.js";
import { SHARED_SETTINGS as shared } from "../shared-settings.js";

export const signAssetsFunction = defineFunction({
  name: SERVICES.signAssets,
  description: "Kiln: signs CloudFront URLs for outputs and assets",
  entry: "functions/handlers/sign-assets/index.ts",
  memorySize: 256,
  timeoutSeconds: 10,
  permissions: {
    signingKeySecretArn: { service: "secretsmanager", actions: ["secretsmanager:GetSecretValue"] },
  },
  settings: {
    cdnBaseUrl: shared.cdnBaseUrl,
    keyPairId: resource(
      ENV.keyPairId,
      z.string().min(1),
      "the id of the CloudFront public key in the distribution's key group, e.g. K2JCJMDEHXQW5F",
    ),
    signingKeySecretArn: resource(
      ENV.signingKeySecretArn,
      z.string().min(1),
      "the ARN of the Secrets Manager secret holding the PEM private key",
    ),
    // Which private key to sign with: the one whose public half is this (see secrets-manager-private-key.ts).
    signingPublicKeyPem: resource(
      ENV.signingPublicKey,
      z.string().includes("-----BEGIN PUBLIC KEY-----"),
      "the SPKI PEM public key registered under the key pair id",
    ),
    // Each caller's TTL is also its cap (signing-policy.ts): the api gets this one for every output URL.
    signedUrlTtlSeconds: setting(
      ENV.signedUrlTtlSeconds,
      z.coerce
        .number()
        .int()
        .min(SIGNED_URL_TTL_BOUNDS.min)
        .max(SIGNED_URL_TTL_BOUNDS.max)
        .default(SIGNED_URL_DEFAULT_TTL_SECONDS),
      "the api's URL TTL: a whole number of seconds between 30 and 3600, or leave it unset",
    ),
    // The render worker's asset URL TTL, the worker's own setting: the longest it may ask for.
    assetUrlTtlSeconds: shared.assetUrlTtlSeconds,
  },
});
