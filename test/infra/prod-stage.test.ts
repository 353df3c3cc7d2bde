import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cfn, onlyResource, reportFindings, resources, type Synthesized, synthKiln } from "./support.js";

// prod differs from dev in configuration only, so this synthesis skips bundling.
let synth: Synthesized;
let json: Cfn;
beforeAll(() => {
  synth = synthKiln({ stage: "prod" }, { bundling: false });
  json = synth.json;
});
afterAll(() => synth?.dispose());

describe("prod stage", () => {
  it("retains the jobs table and protects it from deletion", () => {
    const table = onlyResource(json, "AWS::DynamoDB::Table");
    expect(table.raw.DeletionPolicy).toBe("Retain");
    expect(table.raw.UpdateReplacePolicy).toBe("Retain");
    expect(table.properties.DeletionProtectionEnabled).toBe(true);
    expect(table.properties.TableName).toBe("kiln-prod-jobs");
  });

  it("retains every bucket and never empties one", () => {
    const buckets = resources(json, "AWS::S3::Bucket");
    expect(buckets.length).toBeGreaterThanOrEqual(4);
    for (const bucket of buckets) {
      expect(bucket.raw.DeletionPolicy).toBe("Retain");
      expect(bucket.raw.UpdateReplacePolicy).toBe("Retain");
    }
    expect(resources(json, "Custom::S3AutoDeleteObjects")).toEqual([]);
  });

  it("retains the signing key and keeps logs for three months", () => {
    expect(onlyResource(json, "AWS::SecretsManager::Secret").raw.DeletionPolicy).toBe("Retain");
    const logGroups = resources(json, "AWS::Logs::LogGroup");
    expect(logGroups.length).toBeGreaterThanOrEqual(5);
    for (const group of logGroups) {
      expect(group.properties.RetentionInDays).toBe(90);
      expect(group.raw.DeletionPolicy).toBe("Retain");
    }
  });

  it("names resources after the stage", () => {
    const names = resources(json, "AWS::Lambda::Function").map((f) => f.properties.FunctionName);
    expect(names).toEqual(
      expect.arrayContaining([
        "kiln-prod-api",
        "kiln-prod-batch-fanout",
        "kiln-prod-render-worker",
        "kiln-prod-sign-assets",
        "kiln-prod-signing-key-pair",
        "kiln-prod-webhook-dispatcher",
      ]),
    );
    expect(
      resources(json, "AWS::SQS::Queue")
        .map((q) => q.properties.QueueName)
        .sort(),
    ).toEqual([
      "kiln-prod-batches",
      "kiln-prod-batches-dlq",
      "kiln-prod-renders",
      "kiln-prod-renders-dlq",
      "kiln-prod-webhooks",
      "kiln-prod-webhooks-dlq",
    ]);
    expect(synth.stack.stackName).toBe("Kiln-prod");
  });

  it("passes cdk-nag as well", () => {
    expect(reportFindings(synth)).toEqual([]);
  });
});
