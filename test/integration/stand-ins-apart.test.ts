import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeTableCommand, DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobItemKey } from "../../functions/adapters/aws/jobs-table.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { LOCAL_NAMES } from "../../functions/local/resources.js";
import { startStandIns } from "../../functions/local/stack.js";
import { startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

/**
 * The stand-ins started apart from the stack (as `kiln bench --soak` runs them in a process of
 * their own): the stack works through their endpoints, starts none of its own, and leaves them
 * running when it stops.
 */
describe("a local stack on stand-ins that run apart", () => {
  let standInsDir: string;
  const standInStops: Array<() => Promise<void>> = [];
  let endpoints: { sqsS3: string; dynamodb: string };
  let t: TestStack | undefined;

  beforeAll(async () => {
    standInsDir = await mkdtemp(join(tmpdir(), "kiln-stand-ins-"));
    const { sqsS3, dynamo } = await startStandIns(standInsDir, standInStops);
    endpoints = { sqsS3: sqsS3.endpoint, dynamodb: dynamo.endpoint };
    t = await startTestStack({ standIns: endpoints });
  });
  afterAll(async () => {
    await t?.stop();
    for (const stop of standInStops.reverse()) await stop();
    await rm(standInsDir, { recursive: true, force: true });
  });

  it("renders a job with its items and output kept by those stand-ins", async () => {
    const stack = t as TestStack;
    expect(stack.stack.endpoints.sqsS3).toBe(endpoints.sqsS3);
    expect(stack.stack.endpoints.dynamodb).toBe(endpoints.dynamodb);
    // No stand-in of its own: nothing persisted under the stack's data dir.
    expect(existsSync(join(stack.dataDir, "dynamodb"))).toBe(false);
    expect(existsSync(join(stack.dataDir, "sqs"))).toBe(false);

    const { id } = await stack.clientA.submitRender({
      template: { html: "<!doctype html><p style='margin:0'>apart</p>" },
      data: {},
      output: { format: "png", width: 120, height: 40 },
    });
    const done = await stack.clientA.waitFor(id, { timeoutMs: 60_000 });
    expect(done.status).toBe("succeeded");

    const dynamodb = new DynamoDBClient(localClientConfig(endpoints.dynamodb));
    const s3 = new S3Client(localClientConfig(endpoints.sqsS3));
    try {
      const { Item } = await dynamodb.send(
        new GetItemCommand({
          TableName: LOCAL_NAMES.jobsTable,
          Key: { pk: { S: jobItemKey(TENANT_A.tenant, id).pk as string }, sk: { S: "JOB" } },
        }),
      );
      expect(Item?.status?.S).toBe("succeeded");
      const object = await s3.send(
        new GetObjectCommand({
          Bucket: LOCAL_NAMES.outputsBucket,
          Key: `outputs/${TENANT_A.tenant}/${done.output?.sha256}.png`,
        }),
      );
      expect(Number(object.ContentLength)).toBe(done.output?.bytes);
    } finally {
      dynamodb.destroy();
      s3.destroy();
    }
  });

  it("leaves the stand-ins running when the stack stops", async () => {
    await t?.stop();
    t = undefined;
    const dynamodb = new DynamoDBClient({ ...localClientConfig(endpoints.dynamodb), maxAttempts: 1 });
    try {
      const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: LOCAL_NAMES.jobsTable }));
      expect(Table?.TableName).toBe(LOCAL_NAMES.jobsTable);
    } finally {
      dynamodb.destroy();
    }
  });
});
