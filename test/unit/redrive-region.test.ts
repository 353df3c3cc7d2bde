import type { SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { deployedSqsClient, regionOfQueueUrl } from "../../bin/commands/redrive.js";

describe("regionOfQueueUrl", () => {
  it("reads the region from SQS queue URLs in every form AWS hands out", () => {
    expect(regionOfQueueUrl("https://sqs.eu-west-1.amazonaws.com/123456789012/kiln-prod-renders-dlq")).toBe(
      "eu-west-1",
    );
    expect(regionOfQueueUrl("https://sqs.us-gov-west-1.amazonaws.com/123456789012/q")).toBe("us-gov-west-1");
    expect(regionOfQueueUrl("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q")).toBe("cn-north-1");
    expect(regionOfQueueUrl("https://ap-southeast-2.queue.amazonaws.com/123456789012/q")).toBe(
      "ap-southeast-2",
    );
    expect(
      regionOfQueueUrl("https://vpce-0a1b2c3d-abcdefgh.sqs.eu-central-1.vpce.amazonaws.com/123456789012/q"),
    ).toBe("eu-central-1");
    expect(regionOfQueueUrl(" HTTPS://SQS.EU-WEST-1.AMAZONAWS.COM/123456789012/q ")).toBe("eu-west-1");
  });

  it("names no region for hosts that are not SQS's, so the SDK's own settings apply", () => {
    expect(regionOfQueueUrl("http://127.0.0.1:4566/000000000000/kiln-render-dlq")).toBeUndefined();
    expect(regionOfQueueUrl("http://sqs.us-east-1.127.0.0.1:4566/000000000000/q")).toBeUndefined();
    expect(regionOfQueueUrl("https://sqs.eu-west-1.example.test/1/q")).toBeUndefined();
    expect(regionOfQueueUrl("kiln-prod-renders-dlq")).toBeUndefined();
    expect(regionOfQueueUrl("")).toBeUndefined();
  });
});

describe("kiln redrive --dlq", () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });
  const dlq = "https://sqs.eu-west-1.amazonaws.com/123456789012/kiln-prod-renders-dlq";

  it("uses the queue URL's region when the environment names none, and --region over both", async () => {
    for (const key of ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]) delete process.env[key];
    process.env.AWS_CONFIG_FILE = "/nonexistent/kiln-test-config";
    process.env.AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/kiln-test-credentials";
    const regionOf = async (client: SQSClient) => {
      try {
        return await client.config.region();
      } finally {
        client.destroy();
      }
    };
    expect(await regionOf(deployedSqsClient(dlq, undefined))).toBe("eu-west-1");
    expect(await regionOf(deployedSqsClient(dlq, "eu-central-1"))).toBe("eu-central-1");
    // A URL without a region leaves it to the SDK, which has none here: its own error says so.
    await expect(
      regionOf(deployedSqsClient("http://127.0.0.1:4566/000000000000/q", undefined)),
    ).rejects.toThrow(/Region is missing/);
  });

  it("takes the URL's region over the environment's, where the queue cannot be", async () => {
    process.env.AWS_REGION = "us-east-1";
    const client = deployedSqsClient(dlq, undefined);
    try {
      expect(await client.config.region()).toBe("eu-west-1");
    } finally {
      client.destroy();
    }
  });
});
