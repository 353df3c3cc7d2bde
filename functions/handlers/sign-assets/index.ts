/**
 * Lambda entry of the signer function, the only one that can read the URL-signing private key.
 * Configuration is read once per container; a missing or bad variable fails the cold start.
 */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { z } from "zod";
import { CloudFrontUrlSigner } from "../../adapters/aws/cloudfront-url-signer.js";
import { secretsManagerPrivateKey } from "../../adapters/aws/secrets-manager-private-key.js";
import { powertoolsLogger, withLambdaContext } from "../../adapters/powertools-logger.js";
import { ENV, SIGNED_URL_DEFAULT_TTL_SECONDS } from "../../core/constants.js";
import { SERVICES } from "../../core/observability.js";
import { systemClock } from "../../core/ports.js";
import { readEnv } from "../env.js";
import { makeHandler } from "./handler.js";

const config = readEnv(
  {
    [ENV.cdnBaseUrl]: z.url({ protocol: /^https?$/ }),
    [ENV.keyPairId]: z.string().min(1),
    [ENV.signingKeySecretArn]: z.string().min(1),
    [ENV.signedUrlTtlSeconds]: z.coerce
      .number()
      .int()
      .min(30)
      .max(3600)
      .default(SIGNED_URL_DEFAULT_TTL_SECONDS),
  },
  {
    component: "sign-assets",
    hints: {
      [ENV.cdnBaseUrl]: "the distribution's base URL, e.g. https://d111111abcdef8.cloudfront.net",
      [ENV.keyPairId]:
        "the id of the CloudFront public key in the distribution's key group, e.g. K2JCJMDEHXQW5F",
      [ENV.signingKeySecretArn]: "the ARN of the Secrets Manager secret holding the PEM private key",
      [ENV.signedUrlTtlSeconds]: "a whole number of seconds between 30 and 3600, or leave it unset",
    },
  },
);

const secretsManager = new SecretsManagerClient({});

const logger = powertoolsLogger({ serviceName: SERVICES.signAssets });

const handle = makeHandler({
  logger,
  signer: new CloudFrontUrlSigner({
    baseUrl: config[ENV.cdnBaseUrl],
    keyPairId: config[ENV.keyPairId],
    privateKeyPem: secretsManagerPrivateKey({
      client: secretsManager,
      secretId: config[ENV.signingKeySecretArn],
    }),
    clock: systemClock,
    defaultTtlSeconds: config[ENV.signedUrlTtlSeconds],
  }),
});

export const handler = withLambdaContext(logger, handle);
