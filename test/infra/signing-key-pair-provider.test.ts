import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import {
  generateRsaKeyPair,
  type KeyPairProviderDeps,
  makeHandler,
} from "../../lib/providers/signing-key-pair.js";

const SECRET_ARN =
  "arn:aws:secretsmanager:eu-west-1:123456789012:secret:kiln-dev/cloudfront-signing-key-AbCdEf";

function event(
  requestType: "Create" | "Update" | "Delete",
  properties: Record<string, string> = {},
): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:kiln-dev-signing-key-pair",
    ResponseURL: "https://cloudformation-response.example/signed",
    StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Kiln-dev/1",
    RequestId: "req-1",
    LogicalResourceId: "SigningKeyKeyPair",
    ResourceType: "Custom::KilnSigningKeyPair",
    ResourceProperties: { ServiceToken: "x", SecretArn: SECRET_ARN, Generation: "1", ...properties },
  };
  if (requestType === "Create") return { ...base, RequestType: "Create" };
  if (requestType === "Update") {
    return {
      ...base,
      RequestType: "Update",
      PhysicalResourceId: "kiln-signing-key-pair-1",
      OldResourceProperties: { ServiceToken: "x" },
    };
  }
  return { ...base, RequestType: "Delete", PhysicalResourceId: "kiln-signing-key-pair-1" };
}

function fakes(overrides: Partial<KeyPairProviderDeps> = {}) {
  const puts: Array<{ secretArn: string; value: string }> = [];
  const responses: Array<{ url: string; body: Record<string, unknown> }> = [];
  const deps: KeyPairProviderDeps = {
    generateKeyPair: generateRsaKeyPair,
    putSecretValue: async (secretArn, value) => {
      puts.push({ secretArn, value });
    },
    respond: async (url, body) => {
      responses.push({ url, body: JSON.parse(body) });
    },
    ...overrides,
  };
  return { deps, puts, responses };
}

const context = { logStreamName: "2026/11/21/[$LATEST]abc" };

describe("signing key pair provider", () => {
  it("writes an RSA-2048 private key into the secret and returns only the matching public key", async () => {
    const { deps, puts, responses } = fakes();
    await makeHandler(deps)(event("Create"), context);

    expect(puts).toHaveLength(1);
    expect(puts[0]?.secretArn).toBe(SECRET_ARN);
    const privateKey = createPrivateKey(puts[0]?.value ?? "");
    expect(privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    expect(responses).toHaveLength(1);
    const response = responses[0];
    expect(response?.url).toBe("https://cloudformation-response.example/signed");
    expect(response?.body).toMatchObject({
      Status: "SUCCESS",
      PhysicalResourceId: "kiln-signing-key-pair-1",
      RequestId: "req-1",
    });
    const publicKeyPem = String((response?.body.Data as { PublicKeyPem?: string } | undefined)?.PublicKeyPem);
    expect(publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const signature = sign("sha1", Buffer.from("policy"), privateKey);
    expect(verify("sha1", Buffer.from("policy"), createPublicKey(publicKeyPem), signature)).toBe(true);
    expect(JSON.stringify(response?.body)).not.toContain("PRIVATE KEY");
  });

  it("rotates on update with a new generation", async () => {
    const { deps, puts, responses } = fakes();
    await makeHandler(deps)(event("Update", { Generation: "2" }), context);
    expect(puts).toHaveLength(1);
    expect(responses[0]?.body).toMatchObject({
      Status: "SUCCESS",
      PhysicalResourceId: "kiln-signing-key-pair-2",
    });
  });

  it("leaves the secret alone on delete", async () => {
    const { deps, puts, responses } = fakes();
    await makeHandler(deps)(event("Delete"), context);
    expect(puts).toEqual([]);
    expect(responses[0]?.body).toMatchObject({
      Status: "SUCCESS",
      PhysicalResourceId: "kiln-signing-key-pair-1",
    });
  });

  it("reports a failure to CloudFormation instead of leaving it waiting", async () => {
    const { deps, responses } = fakes({
      putSecretValue: async () => {
        throw new Error("AccessDeniedException: not allowed");
      },
    });
    await makeHandler(deps)(event("Create"), context);
    expect(responses[0]?.body).toMatchObject({ Status: "FAILED" });
    expect(String(responses[0]?.body.Reason)).toContain("AccessDeniedException: not allowed");

    const missing = fakes();
    await makeHandler(missing.deps)(event("Create", { SecretArn: "" }), context);
    expect(missing.responses[0]?.body).toMatchObject({ Status: "FAILED" });
    expect(String(missing.responses[0]?.body.Reason)).toContain("The SecretArn property is required");
  });
});
