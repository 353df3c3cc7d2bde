/** The signer function's adapters and handler, from its configuration (function.ts). */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CloudFrontUrlSigner } from "../../adapters/aws/cloudfront-url-signer.js";
import { secretsManagerPrivateKey } from "../../adapters/aws/secrets-manager-private-key.js";
import type { CallerTtls } from "../../core/signing-policy.js";
import type { ConfigOf } from "../function-definition.js";
import type { ClientsOf, FunctionRuntime } from "../wiring.js";
import type { signAssetsFunction } from "./function.js";
import { makeHandler } from "./handler.js";

export const signAssetsClients = { secretsManager: SecretsManagerClient } as const;

export function wireSignAssets(
  clients: ClientsOf<typeof signAssetsClients>,
  config: ConfigOf<typeof signAssetsFunction>,
  runtime: FunctionRuntime,
) {
  return makeHandler({
    logger: runtime.logger,
    callerTtls: callerTtlsOf(config),
    signer: new CloudFrontUrlSigner({
      baseUrl: config.cdnBaseUrl,
      keyPairId: config.keyPairId,
      // Read from the secret once, on first use.
      privateKeyPem: secretsManagerPrivateKey({
        client: clients.secretsManager,
        secretId: config.signingKeySecretArn,
        publicKeyPem: config.signingPublicKeyPem,
      }),
      clock: runtime.clock,
      defaultTtlSeconds: config.signedUrlTtlSeconds,
    }),
  });
}

/** Each caller's TTL (and cap), from the signer's configuration. */
export function callerTtlsOf(config: ConfigOf<typeof signAssetsFunction>): CallerTtls {
  return { api: config.signedUrlTtlSeconds, "render-worker": config.assetUrlTtlSeconds };
}
