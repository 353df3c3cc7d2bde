/**
 * The key that encrypts tenants' webhook secrets: rotated, usable by the api function and the webhook
 * dispatcher only (each only under a `tenant` encryption context), and refusing decryption to every
 * other principal — the render worker reads and writes the same table but must never read a secret.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  actionMatches,
  actionsOf,
  allowStatementsByRole,
  asArray,
  type Cfn,
  logicalIdOf,
  onlyResource,
  type Synthesized,
  synthKiln,
} from "./support.js";

let synth: Synthesized;
let json: Cfn;
beforeAll(() => {
  synth = synthKiln({ stage: "prod" }, { bundling: false });
  json = synth.json;
});
afterAll(() => synth?.dispose());

const roleId = (path: string) => logicalIdOf(json, `${path}/Role`, "AWS::IAM::Role");
const key = () => onlyResource(json, "AWS::KMS::Key");
const usesKey = (statement: Cfn) =>
  asArray<Cfn>(statement.Resource).some((r) => r === "*" || JSON.stringify(r).includes(key().id));

describe("webhook secrets key", () => {
  it("is a symmetric key that KMS rotates, kept when a prod stack is deleted", () => {
    expect(key().properties).toMatchObject({ EnableKeyRotation: true });
    expect(key().properties.KeySpec ?? "SYMMETRIC_DEFAULT").toBe("SYMMETRIC_DEFAULT");
    expect(key().raw.DeletionPolicy).toBe("Retain");
  });

  it("is granted to the api function and the dispatcher only, for Encrypt and Decrypt under a tenant context", () => {
    const users = [...allowStatementsByRole(json)]
      .filter(([, statements]) =>
        statements.some((s) => usesKey(s) && actionsOf(s).some((a) => actionMatches(a, "kms:Decrypt"))),
      )
      .map(([role]) => role)
      .sort();
    expect(users).toEqual([roleId("Api/ApiFunction"), roleId("Webhooks/Dispatcher")].sort());
    for (const role of users) {
      const grants = (allowStatementsByRole(json).get(role) ?? []).filter((s) =>
        actionsOf(s).some((a) => a.startsWith("kms:")),
      );
      expect(grants).toEqual([
        expect.objectContaining({
          Action: ["kms:Decrypt", "kms:Encrypt"],
          Resource: { "Fn::GetAtt": [key().id, "Arn"] },
          Condition: {
            "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["tenant"] },
            Null: { "kms:EncryptionContext:tenant": "false" },
          },
        }),
      ]);
    }
  });

  it("gives the render worker no KMS permission, and its key policy denies decryption to all but the two roles", () => {
    const worker = allowStatementsByRole(json).get(roleId("RenderWorker/Worker")) ?? [];
    expect(worker.flatMap(actionsOf).filter((a) => a.startsWith("kms:") || a === "*")).toEqual([]);
    const deny = (key().properties.KeyPolicy.Statement as Cfn[]).find((s) => s.Effect === "Deny");
    expect(deny).toMatchObject({
      Principal: { AWS: "*" },
      Action: ["kms:Decrypt", "kms:ReEncrypt*"],
      Resource: "*",
    });
    expect(deny.Condition.StringNotEquals["aws:PrincipalArn"]).toEqual([
      { "Fn::GetAtt": [roleId("Webhooks/Dispatcher"), "Arn"] },
      { "Fn::GetAtt": [roleId("Api/ApiFunction"), "Arn"] },
    ]);
  });

  it("names the key to the two functions that use it, and to no other", () => {
    const withKey = Object.entries(json.Resources as Record<string, Cfn>)
      .filter(([, r]) => r.Type === "AWS::Lambda::Function")
      .filter(([, r]) => JSON.stringify(r.Properties.Environment ?? {}).includes(key().id))
      .map(([id]) => id)
      .sort();
    const fnId = (path: string) => logicalIdOf(json, `${path}/Function`, "AWS::Lambda::Function");
    expect(withKey).toEqual([fnId("Api/ApiFunction"), fnId("Webhooks/Dispatcher")].sort());
  });
});
