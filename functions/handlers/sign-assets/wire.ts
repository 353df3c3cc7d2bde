/** The signer function's adapters and handler, from its configuration (function.ts). */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CloudFrontUrlSigner } from "../../adapters/aws/cloudfront-url-signer.js";
import { secretsManagerPrivateKey } from "../../adapters/aws/secrets-manager-private-key.js";
import type { ConfigOf } from "../function-definition.js";
import type { ClientsOf, FunctionRuntime } from "../wiring.js";
import type { signAssetsFunction } from "./function.js";
import { makeHandler } from "./handler.js";

export const signAssetsClients = { secretsManager: SecretsManagerClient } as const;

export interface SignAssetsRuntime extends FunctionRuntime {
  /** The PEM private key. @default - read from the secret `signingKeySecretArn` names, once */
  readonly privateKeyPem?: () => Promise<string>;
}

export function wireSignAssets(
  clients: ClientsOf<typeof signAssetsClients>,
  config: ConfigOf<typeof signAssetsFunction>,
  runtime: SignAssetsRuntime,
) {
  return makeHandler({
    logger: runtime.logger,
    signer: new CloudFrontUrlSigner({
      baseUrl: config.cdnBaseUrl,
      keyPairId: config.keyPairId,
      privateKeyPem:
        runtime.privateKeyPem ??
        secretsManagerPrivateKey({ client: clients.secretsManager, secretId: config.signingKeySecretArn }),
      clock: runtime.clock,
      defaultTtlSeconds: config.signedUrlTtlSeconds,
    }),
  });
}
