import { createPrivateKey } from "node:crypto";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

export interface SecretsManagerPrivateKeyOptions {
  readonly client: SecretsManagerClient;
  /** Secret ARN or name; its SecretString is the PEM private key. */
  readonly secretId: string;
}

/**
 * Returns a loader for the URL-signing private key. The secret is read once per container and the
 * promise shared by concurrent callers; a failed read is forgotten so the next call retries.
 */
export function secretsManagerPrivateKey(options: SecretsManagerPrivateKeyOptions): () => Promise<string> {
  let pending: Promise<string> | undefined;
  return () => {
    if (!pending) {
      const attempt = fetchPrivateKey(options);
      pending = attempt;
      attempt.catch(() => {
        if (pending === attempt) pending = undefined;
      });
    }
    return pending;
  };
}

async function fetchPrivateKey({ client, secretId }: SecretsManagerPrivateKeyOptions): Promise<string> {
  const { SecretString: pem } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!pem) {
    throw new Error(
      `Secret ${secretId} has no SecretString: store the PEM private key as the secret's text.`,
    );
  }
  try {
    // Fails here, with a clear message, rather than on the first signature.
    createPrivateKey(pem);
  } catch {
    // The parser's message is not echoed: it may quote key material.
    throw new Error(`Secret ${secretId} does not hold a PEM private key.`);
  }
  return pem;
}
