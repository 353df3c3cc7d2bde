import { Duration } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../functions/core/constants.js";
import { KilnStack, type KilnStackProps } from "../../lib/kiln-stack.js";
import {
  actionMatches,
  actionsOf,
  allowStatementsByRole,
  asArray,
  type Cfn,
  logicalIdOf,
  onlyResource,
  resources,
  scratchApps,
} from "./support.js";

const apps = scratchApps();
afterAll(() => apps.dispose());

// Configuration only: no bundling; path metadata to find resources by construct path.
const noBundling = { "aws:cdk:bundling-stacks": [], "aws:cdk:enable-path-metadata": true };
const build = (props: Partial<KilnStackProps> = {}) =>
  new KilnStack(apps.app({ context: noBundling }), "Kiln-test", { stage: "dev", ...props });
const synth = (props: Partial<KilnStackProps> = {}) => {
  const stack = build(props);
  return { stack, json: Template.fromStack(stack).toJSON() as Cfn };
};

const fnId = (json: Cfn, path: string) => logicalIdOf(json, `${path}/Function`, "AWS::Lambda::Function");
const roleId = (json: Cfn, path: string) => logicalIdOf(json, `${path}/Role`, "AWS::IAM::Role");
const envOf = (json: Cfn, path: string) => json.Resources[fnId(json, path)].Properties.Environment.Variables;

describe("signing key rotation", () => {
  let first: Cfn;
  let rotated: Cfn;
  beforeAll(() => {
    first = synth().json;
    rotated = synth({ signingKey: { generation: 2 } }).json;
  });

  it("holds one key before any rotation", () => {
    const keyGroup = onlyResource(first, "AWS::CloudFront::KeyGroup");
    const publicKey = onlyResource(first, "AWS::CloudFront::PublicKey");
    expect(keyGroup.properties.KeyGroupConfig.Items).toEqual([{ Ref: publicKey.id }]);
  });

  it("after a rotation, holds the new and the previous public key; the signer signs with the new one", () => {
    const pairs = resources(rotated, "Custom::KilnSigningKeyPair");
    const generationOf = (id: string) => pairs.find((p) => p.id === id)?.properties.Generation;
    const keys = resources(rotated, "AWS::CloudFront::PublicKey");
    expect(keys).toHaveLength(2);
    const keyFrom = (generation: string) =>
      keys.find((k) => generationOf(k.properties.PublicKeyConfig.EncodedKey["Fn::GetAtt"][0]) === generation);
    const current = keyFrom("2");
    const previous = keyFrom("1");
    if (!current || !previous) throw new Error("expected a public key per generation");

    const keyGroup = onlyResource(rotated, "AWS::CloudFront::KeyGroup");
    expect(keyGroup.properties.KeyGroupConfig.Items).toEqual([{ Ref: current.id }, { Ref: previous.id }]);
    const signerEnv = envOf(rotated, "Signer/SignAssets");
    expect(signerEnv[ENV.keyPairId]).toEqual({ Ref: current.id });
    // The public key it names, by which the signer picks the matching version of the secret.
    expect(signerEnv[ENV.signingPublicKey]).toEqual(current.properties.PublicKeyConfig.EncodedKey);
  });

  it("leaves the deployed generation's resources as they were, and writes the new key after them", () => {
    // Same logical ids and properties as before the rotation: CloudFormation does not touch them.
    const before = onlyResource(first, "Custom::KilnSigningKeyPair");
    const kept = resources(rotated, "Custom::KilnSigningKeyPair").find((p) => p.id === before.id);
    expect(kept?.properties).toEqual(before.properties);
    const beforeKey = onlyResource(first, "AWS::CloudFront::PublicKey");
    expect(
      resources(rotated, "AWS::CloudFront::PublicKey").find((k) => k.id === beforeKey.id)?.properties,
    ).toEqual(beforeKey.properties);
    const added = resources(rotated, "Custom::KilnSigningKeyPair").find((p) => p.id !== before.id);
    expect(asArray(added?.raw.DependsOn)).toContain(before.id);
  });

  it("drops the oldest key at the next rotation", () => {
    const third = synth({ signingKey: { generation: 3 } }).json;
    const generations = resources(third, "Custom::KilnSigningKeyPair").map((p) => p.properties.Generation);
    expect(generations.sort()).toEqual(["2", "3"]);
    expect(onlyResource(third, "AWS::CloudFront::KeyGroup").properties.KeyGroupConfig.Items).toHaveLength(2);
  });

  it("refuses an overlap shorter than the longest a signed URL stays valid, naming the option", () => {
    expect(() => build({ signingKey: { rotationOverlap: Duration.minutes(9) } })).toThrow(
      "signingKey.rotationOverlap must be at least 600 seconds, the longest a signed URL stays valid (twice the longest caller TTL, 300 s); got 540.",
    );
    expect(() =>
      build({ signedUrlTtl: Duration.hours(1), signingKey: { rotationOverlap: Duration.hours(1) } }),
    ).toThrow(/signingKey\.rotationOverlap must be at least 7200 seconds/);
    expect(() => build({ signingKey: { rotationOverlap: Duration.minutes(10) } })).not.toThrow();
  });
});

describe("signer callers", () => {
  let stack: KilnStack;
  let json: Cfn;
  beforeAll(() => {
    ({ stack, json } = synth());
  });

  it("has one alias per caller on the signer", () => {
    const aliases = resources(json, "AWS::Lambda::Alias");
    expect(aliases.map((a) => a.properties.Name).sort()).toEqual(["api", "render-worker"]);
    for (const alias of aliases) {
      expect(alias.properties).toMatchObject({
        FunctionName: { Ref: fnId(json, "Signer/SignAssets") },
        FunctionVersion: "$LATEST",
      });
    }
  });

  it("lets each caller invoke its own alias and nothing else of the signer, and names the alias to it", () => {
    const aliasId = (name: string) =>
      onlyResource(json, "AWS::Lambda::Alias", (a) => a.properties.Name === name).id;
    const signer = fnId(json, "Signer/SignAssets");
    const invokes = (role: string) =>
      (allowStatementsByRole(json).get(role) ?? [])
        .filter((s) => actionsOf(s).some((a) => actionMatches(a, "lambda:InvokeFunction")))
        .flatMap((s) => asArray<Cfn>(s.Resource));
    const callers = { api: "Api/ApiFunction", "render-worker": "RenderWorker/Worker" } as const;
    for (const [caller, path] of Object.entries(callers)) {
      expect(invokes(roleId(json, path))).toEqual([{ Ref: aliasId(caller) }]);
      expect(envOf(json, path)[ENV.signerFunctionName]).toEqual({
        "Fn::Join": ["", [{ Ref: signer }, `:${caller}`]],
      });
    }
    // No role may invoke the unqualified signer (no caller policy would apply) or all its qualifiers.
    for (const [, statements] of allowStatementsByRole(json)) {
      const resourcesOf = statements
        .filter((s) => actionsOf(s).some((a) => actionMatches(a, "lambda:InvokeFunction")))
        .flatMap((s) => asArray<Cfn>(s.Resource));
      expect(JSON.stringify(resourcesOf)).not.toContain(`"Fn::GetAtt":["${signer}","Arn"]`);
    }
  });

  it("gives the signer each caller's TTL", () => {
    const vars = envOf(json, "Signer/SignAssets");
    expect(vars[ENV.signedUrlTtlSeconds]).toBe("300");
    expect(vars[ENV.assetUrlTtlSeconds]).toBe("300");
  });

  it("refuses a grant whose caller would ask for longer URLs than the signer allows it", () => {
    const role = new iam.Role(stack, "Other", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    });
    expect(() => stack.signer.grantInvokeAs(role, "render-worker", Duration.minutes(10))).toThrow(
      "render-worker asks for 600 s URLs, but the signer lets it have at most 300 s: give UrlSigner's assetUrlTtl the same value.",
    );
  });
});
