import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalApiGateway, startLocalApiGateway } from "../../functions/local/api-gateway-server.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { healthzRoute, localHealthChecks } from "../../functions/local/healthz.js";
import { ensureBucket, ensureJobsTable, ensureRenderQueues } from "../../functions/local/resources.js";
import { type StandIn, startDynamoDbStandIn, startSqsS3StandIn } from "../../functions/local/stand-ins.js";
import { startTestStack, type TestStack } from "./helpers/local-stack.js";

describe("GET /healthz on the local stack", () => {
  let ts: TestStack;
  beforeAll(async () => {
    ts = await startTestStack();
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it("answers 200 with every stand-in and Chromium ok, without an API key", async () => {
    const res = await fetch(`${ts.stack.apiUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(body.status).toBe("ok");
    expect(Object.keys(body.checks).sort()).toEqual(["chromium", "dynamodb", "s3", "sqs"]);
    for (const check of Object.values(body.checks)) expect(check.status).toBe("ok");
  });

  it("leaves every other path to the api handler", async () => {
    const res = await fetch(`${ts.stack.apiUrl}/healthz/extra`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});

describe("GET /healthz with a stand-in stopped", () => {
  let sqsS3: StandIn;
  let dynamo: StandIn;
  let gateway: LocalApiGateway;
  beforeAll(async () => {
    sqsS3 = await startSqsS3StandIn({ port: 0 });
    dynamo = await startDynamoDbStandIn({ port: 0 });
    const once = (endpoint: string) => ({ ...localClientConfig(endpoint), maxAttempts: 1 });
    const sqs = new SQSClient(once(sqsS3.endpoint));
    const s3 = new S3Client(once(sqsS3.endpoint));
    const dynamodb = new DynamoDBClient(once(dynamo.endpoint));
    await ensureJobsTable(dynamodb, "health-jobs");
    await ensureBucket(s3, "health-outputs");
    const { queueUrl } = await ensureRenderQueues(sqs, { visibilityTimeoutSeconds: 30 });
    const checks = localHealthChecks({
      sqs,
      queueUrl,
      s3,
      bucket: "health-outputs",
      dynamodb,
      table: "health-jobs",
      browsers: { browserProcessId: () => undefined },
    });
    gateway = await startLocalApiGateway({
      port: 0,
      handler: async () => ({ statusCode: 418, body: "" }),
      localRoutes: { "/healthz": healthzRoute(checks) },
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await sqsS3?.stop();
  });

  it("answers 200 while both answer, then 503 naming dynamodb once it is stopped", async () => {
    const healthy = await fetch(`${gateway.url}/healthz`);
    expect(healthy.status).toBe(200);

    await dynamo.stop();
    const res = await fetch(`${gateway.url}/healthz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as {
      status: string;
      failing: string[];
      checks: Record<string, { status: string; detail?: string }>;
    };
    expect(body.status).toBe("failing");
    expect(body.failing).toEqual(["dynamodb"]);
    expect(body.checks.dynamodb?.status).toBe("failing");
    expect(body.checks.sqs?.status).toBe("ok");
    expect(body.checks.s3?.status).toBe("ok");
    expect(body.checks.chromium).toMatchObject({
      status: "ok",
      detail: expect.stringContaining("not started"),
    });
  });
});
