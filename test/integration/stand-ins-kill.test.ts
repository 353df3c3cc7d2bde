import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import {
  ensureBucket,
  ensureJobsTable,
  ensureRenderQueues,
  LOCAL_NAMES,
  type RenderQueues,
} from "../../functions/local/resources.js";
import { type StandInsApart, startStandInsApart } from "../faults/stand-ins-apart.js";
import { eventually } from "./helpers/local-stack.js";

/**
 * What survives a SIGKILL of the stand-ins' process (started again on the same data dir and ports):
 * everything they acknowledged. fauxqs writes each SQS change (send, receive, visibility, delete,
 * dead-letter move) to SQLite and each object to a file before it answers; dynalite writes each item to
 * LevelDB's log before it answers. A kill loses only requests in flight, which the client saw fail.
 */
let dataDir: string;
let standIns: StandInsApart;
let sqs: SQSClient;
let s3: S3Client;
let dynamodb: DynamoDBClient;
let queues: RenderQueues;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "kiln-stand-ins-kill-"));
  standIns = await startStandInsApart(dataDir);
  sqs = new SQSClient(localClientConfig(standIns.endpoints.sqsS3));
  s3 = new S3Client(localClientConfig(standIns.endpoints.sqsS3));
  dynamodb = new DynamoDBClient(localClientConfig(standIns.endpoints.dynamodb));
  queues = await ensureRenderQueues(sqs, { visibilityTimeoutSeconds: 30, maxReceiveCount: 4 });
  await ensureBucket(s3, LOCAL_NAMES.outputsBucket);
  await ensureJobsTable(dynamodb, LOCAL_NAMES.jobsTable);
});

afterAll(async () => {
  sqs?.destroy();
  s3?.destroy();
  dynamodb?.destroy();
  await standIns?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function queueDepth() {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queues.queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
  };
}

describe("the stand-ins SIGKILLed and started again", () => {
  it("keep every message, receive, visibility change, object and item they acknowledged", async () => {
    for (const n of [1, 2, 3]) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: `m${n}` }));
    }
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 2 }),
    );
    expect(Messages).toHaveLength(2);
    const [held, released] = Messages;
    // One stays in flight for its 30 s; one is made visible again in a second (as a retry backoff
    // does). Had the stand-ins lost that change, it would stay in flight for 30 s after the restart.
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queues.queueUrl,
        ReceiptHandle: released?.ReceiptHandle,
        VisibilityTimeout: 1,
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: LOCAL_NAMES.outputsBucket,
        Key: "outputs/kill/a.png",
        Body: "png-bytes",
      }),
    );
    await dynamodb.send(
      new PutItemCommand({
        TableName: LOCAL_NAMES.jobsTable,
        Item: { pk: { S: "kill#1" }, sk: { S: "JOB" }, status: { S: "rendering" } },
      }),
    );

    await standIns.killHardAndRestart();
    expect(standIns.kills).toBe(1);

    // The released message comes back once its second is up (the restart may take less), and m3 is
    // visible; the held one is not received: it is in flight under its receipt handle, which still
    // deletes it.
    const received: string[] = [];
    await eventually(
      async () => {
        const { Messages: again = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queues.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
          }),
        );
        received.push(...again.map((m) => String(m.Body)));
        return received.length >= 2 ? true : undefined;
      },
      "the released message and m3",
      10_000,
    );
    expect(received.sort()).toEqual(["m3", String(released?.Body)].sort());
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: held?.ReceiptHandle }),
    );
    expect(await queueDepth()).toEqual({ visible: 0, inFlight: 2 });

    const object = await s3.send(
      new GetObjectCommand({ Bucket: LOCAL_NAMES.outputsBucket, Key: "outputs/kill/a.png" }),
    );
    expect(await object.Body?.transformToString()).toBe("png-bytes");
    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: LOCAL_NAMES.jobsTable,
        Key: { pk: { S: "kill#1" }, sk: { S: "JOB" } },
      }),
    );
    expect(Item?.status?.S).toBe("rendering");
  });
});
