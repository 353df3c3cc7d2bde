import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { startDynamoDbStandIn, startSqsS3StandIn } from "../../functions/local/stand-ins.js";
import { startThrottlingProxy, type ThrottledService } from "../../functions/local/throttling-proxy.js";

/**
 * The throttling fault on the wire: the real SDK clients, through the proxy, get the errors AWS
 * throttling gives them (and retry them as throttling); SQS on fauxqs's shared port passes untouched.
 */
const stops: Array<() => Promise<void>> = [];
let targets: Record<ThrottledService, string>;

beforeAll(async () => {
  const sqsS3 = await startSqsS3StandIn({ port: 0 });
  stops.push(sqsS3.stop);
  const dynamo = await startDynamoDbStandIn({ port: 0 });
  stops.push(dynamo.stop);
  targets = { dynamodb: dynamo.endpoint, s3: sqsS3.endpoint };
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

async function proxy(service: ThrottledService, share: number, random = Math.random) {
  let throttled = 0;
  const started = await startThrottlingProxy({
    target: targets[service],
    service,
    share,
    random,
    onThrottle: () => {
      throttled += 1;
    },
  });
  stops.push(started.stop);
  return { endpoint: started.endpoint, throttled: () => throttled };
}

describe("the throttling proxy", () => {
  it("answers DynamoDB with HTTP 400 ProvisionedThroughputExceededException or ThrottlingException", async () => {
    const p = await proxy("dynamodb", 1);
    const client = new DynamoDBClient({ ...localClientConfig(p.endpoint), maxAttempts: 1 });
    try {
      const names = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const error = await client.send(new ListTablesCommand({})).then(
          () => undefined,
          (err: { name: string; $metadata?: { httpStatusCode?: number } }) => err,
        );
        expect(error?.$metadata?.httpStatusCode).toBe(400);
        names.add(error?.name ?? "none");
      }
      expect([...names].sort()).toEqual(["ProvisionedThroughputExceededException", "ThrottlingException"]);
      expect(p.throttled()).toBe(12);
    } finally {
      client.destroy();
    }
  });

  it("answers S3 with HTTP 503 SlowDown, which the SDK retries as throttling, and lets SQS through", async () => {
    const p = await proxy("s3", 1);
    const s3 = new S3Client({ ...localClientConfig(p.endpoint), maxAttempts: 2 });
    const sqs = new SQSClient(localClientConfig(p.endpoint));
    try {
      const error = await s3.send(new HeadBucketCommand({ Bucket: "kiln-throttled" })).then(
        () => undefined,
        (err: { name: string; $metadata?: { httpStatusCode?: number; attempts?: number } }) => err,
      );
      expect(error?.$metadata?.httpStatusCode).toBe(503);
      // The SDK took it for throttling and retried (HEAD has no body: the name comes from the status).
      expect(error?.$metadata?.attempts).toBe(2);
      expect(p.throttled()).toBe(2);
      const put = await s3
        .send(new CreateBucketCommand({ Bucket: "kiln-throttled" }))
        .catch((err: { name: string }) => err);
      expect((put as { name: string }).name).toBe("SlowDown");
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: "kiln-not-throttled" }));
      expect(queue.QueueUrl).toContain("kiln-not-throttled");
      expect(p.throttled()).toBe(4);
    } finally {
      s3.destroy();
      sqs.destroy();
    }
  });

  it("passes the other requests through to the stand-in", async () => {
    // The first request is throttled (draw 0.1, then its error type); every later draw passes.
    const draws = [0.1, 0.2];
    const p = await proxy("dynamodb", 0.5, () => draws.shift() ?? 0.9);
    const client = new DynamoDBClient(localClientConfig(p.endpoint));
    try {
      const answer = await client.send(new ListTablesCommand({}));
      expect(answer.TableNames).toEqual([]);
      // Throttled once, retried by the SDK, answered by dynalite.
      expect(answer.$metadata.attempts).toBe(2);
      expect(p.throttled()).toBe(1);
    } finally {
      client.destroy();
    }
  });
});
