import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

export interface SecretsManagerPrivateKeyOptions {
  readonly client: SecretsManagerClient;
  /** Secret ARN or name; its SecretString is the PEM private key. */
  readonly secretId: string;
  /**
   * The public key the signer's key pair id names. The key returned is the one that matches it: the
   * secret's current version, or during a rotation's deploy, when the secret already holds the new key
   * but this signer still has the old id, its previous version.
   */
  readonly publicKeyPem: string;
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

async function fetchPrivateKey(options: SecretsManagerPrivateKeyOptions): Promise<string> {
  const { client, secretId } = options;
  const expected = spki(createPublicKey(options.publicKeyPem));
  const current = await readPem(client, secretId, "AWSCURRENT");
  if (spki(current.key).equals(expected)) return current.pem;
  // A rotation's deploy writes the new key before the signer learns the new id: until it does, a
  // signer that starts signs with the key its id names, which the secret keeps as AWSPREVIOUS.
  const previous = await readPem(client, secretId, "AWSPREVIOUS").catch(() => undefined);
  if (previous && spki(previous.key).equals(expected)) return previous.pem;
  throw new Error(
    `Secret ${secretId} holds no private key matching the signer's public key (its current and previous versions were checked): store the private half of the key the key pair id names.`,
  );
}

async function readPem(
  client: SecretsManagerClient,
  secretId: string,
  stage: "AWSCURRENT" | "AWSPREVIOUS",
): Promise<{ pem: string; key: KeyObject }> {
  const { SecretString: pem } = await client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
  );
  if (!pem) {
    throw new Error(
      `Secret ${secretId} has no SecretString: store the PEM private key as the secret's text.`,
    );
  }
  try {
    // Fails here, with a clear message, rather than on the first signature.
    return { pem, key: createPublicKey(createPrivateKey(pem)) };
  } catch {
    // The parser's message is not echoed: it may quote key material.
    throw new Error(`Secret ${secretId} does not hold a PEM private key.`);
  }
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}
