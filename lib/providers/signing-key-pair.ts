/**
 * CloudFormation custom resource (Lambda-backed) that creates Kiln's CloudFront URL-signing key pair at
 * deploy time: RSA-2048 from node:crypto, private key written into the Secrets Manager secret (it never
 * leaves this function otherwise), public key PEM returned as the `PublicKeyPem` attribute.
 *
 * Create and Update (a new `Generation`) make a new key pair; Delete leaves the secret to its own removal
 * policy. The function may write the secret but not read it.
 */
import { generateKeyPairSync } from "node:crypto";
import { PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type {
  CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceResponse,
  Context,
} from "aws-lambda";

export interface KeyPair {
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

export interface KeyPairProviderDeps {
  readonly generateKeyPair: () => KeyPair;
  readonly putSecretValue: (secretArn: string, value: string) => Promise<void>;
  /** PUTs the response document to the pre-signed S3 URL CloudFormation waits on. */
  readonly respond: (responseUrl: string, body: string) => Promise<void>;
}

export function generateRsaKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

export function makeHandler(deps: KeyPairProviderDeps) {
  return async (
    event: CloudFormationCustomResourceEvent,
    context: Pick<Context, "logStreamName">,
  ): Promise<void> => {
    const generation = String(event.ResourceProperties.Generation ?? "1");
    const physicalResourceId =
      event.RequestType === "Create" ? `kiln-signing-key-pair-${generation}` : event.PhysicalResourceId;
    const base = {
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      PhysicalResourceId: physicalResourceId,
    };
    let response: CloudFormationCustomResourceResponse;
    try {
      if (event.RequestType === "Delete") {
        response = { ...base, Status: "SUCCESS" };
      } else {
        const secretArn = event.ResourceProperties.SecretArn;
        if (typeof secretArn !== "string" || secretArn === "") {
          throw new Error(
            "The SecretArn property is required: the ARN of the secret that receives the private key.",
          );
        }
        const keyPair = deps.generateKeyPair();
        await deps.putSecretValue(secretArn, keyPair.privateKeyPem);
        response = {
          ...base,
          PhysicalResourceId: `kiln-signing-key-pair-${generation}`,
          Status: "SUCCESS",
          Data: { PublicKeyPem: keyPair.publicKeyPem },
        };
      }
    } catch (err) {
      // The reason reaches the CloudFormation console; it never contains key material.
      const message = err instanceof Error ? err.message : String(err);
      console.error(
        JSON.stringify({ level: "error", message: "signing key pair request failed", error: message }),
      );
      response = { ...base, Status: "FAILED", Reason: `${message} (log stream ${context.logStreamName})` };
    }
    await deps.respond(event.ResponseURL, JSON.stringify(response));
  };
}

const secrets = new SecretsManagerClient({});

export const handler = makeHandler({
  generateKeyPair: generateRsaKeyPair,
  putSecretValue: async (secretArn, value) => {
    await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: value }));
  },
  respond: async (responseUrl, body) => {
    // The pre-signed URL was signed with an empty content type.
    const res = await fetch(responseUrl, { method: "PUT", body, headers: { "content-type": "" } });
    if (!res.ok) throw new Error(`CloudFormation response upload failed with HTTP ${res.status}.`);
  },
});
