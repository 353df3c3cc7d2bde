/**
 * The key that encrypts tenants' webhook secrets: rotated, usable by the api function and the webhook
 * dispatcher only (each only under a `tenant` encryption context), and refusing decryption to every
 * other principal — the render worker's role cannot reach the secrets' items, and must never read one either.
 * Beside it, the key of URL jobs' headers and cookies: the api function encrypts, only the worker decrypts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  actionMatches,
  actionsOf,
  allowStatementsByRole,
  asArray,
  type Cfn,
  logicalIdOf,
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
const keyAt = (path: string) => {
  const id = logicalIdOf(json, path, "AWS::KMS::Key");
  const raw = json.Resources[id] as Cfn;
  return { id, raw, properties: raw.Properties as Cfn };
};
const key = () => keyAt("Webhooks/SecretsKey");
const pageKey = () => keyAt("RenderWorker/PageSecretsKey");
const usesKey = (statement: Cfn, id = key().id) =>
  asArray<Cfn>(statement.Resource).some((r) => r === "*" || JSON.stringify(r).includes(id));

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
      const grants = (allowStatementsByRole(json).get(role) ?? []).filter(
        (s) => usesKey(s) && actionsOf(s).some((a) => a.startsWith("kms:")),
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

  it("gives the render worker no KMS permission on it, and its key policy denies decryption to all but the two roles", () => {
    const worker = (allowStatementsByRole(json).get(roleId("RenderWorker/Worker")) ?? []).filter((s) =>
      usesKey(s),
    );
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

describe("page secrets key (URL jobs' headers and cookies)", () => {
  const kmsGrants = (role: string) =>
    (allowStatementsByRole(json).get(role) ?? []).filter(
      (s) => usesKey(s, pageKey().id) && actionsOf(s).some((a) => a.startsWith("kms:")),
    );
  const context = {
    "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["pageSecretsTenant"] },
    Null: { "kms:EncryptionContext:pageSecretsTenant": "false" },
  };

  it("is rotated and kept, lets the api function encrypt and only the worker decrypt, under its own context", () => {
    expect(pageKey().properties).toMatchObject({ EnableKeyRotation: true });
    expect(pageKey().raw.DeletionPolicy).toBe("Retain");
    const users = [...allowStatementsByRole(json).keys()].filter((role) => kmsGrants(role).length > 0).sort();
    expect(users).toEqual([roleId("Api/ApiFunction"), roleId("RenderWorker/Worker")].sort());
    const grant = (actions: string[]) =>
      expect.objectContaining({
        Action: actions.length === 1 ? actions[0] : actions,
        Resource: { "Fn::GetAtt": [pageKey().id, "Arn"] },
        Condition: context,
      });
    expect(kmsGrants(roleId("Api/ApiFunction"))).toEqual([grant(["kms:Encrypt"])]);
    expect(kmsGrants(roleId("RenderWorker/Worker"))).toEqual([grant(["kms:Decrypt"])]);
    const deny = (pageKey().properties.KeyPolicy.Statement as Cfn[]).find((s) => s.Effect === "Deny");
    expect(deny).toMatchObject({ Principal: { AWS: "*" }, Action: ["kms:Decrypt", "kms:ReEncrypt*"] });
    expect(deny.Condition.StringNotEquals["aws:PrincipalArn"]).toEqual({
      "Fn::GetAtt": [roleId("RenderWorker/Worker"), "Arn"],
    });
  });
});
