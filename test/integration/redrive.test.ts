import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { promisify } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbJobStore } from "../../functions/adapters/aws/dynamodb-job-store.js";
import { silentLogger } from "../../functions/adapters/silent-logger.js";
import { KilnClient } from "../../functions/client/kiln-client.js";
import type { Job } from "../../functions/core/job.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { type LocalStack, startLocalStack } from "../../functions/local/stack.js";
import { startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

const run = promisify(execFile);

async function kiln(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/kiln.mjs", ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let t: TestStack;
let restarted: LocalStack | undefined;
let firstStopped = false;
beforeAll(async () => {
  t = await startTestStack({ visibilityTimeoutSeconds: 2, retry: { baseSeconds: 1, maxSeconds: 1 } });
});
afterAll(async () => {
  await restarted?.stop();
  if (!firstStopped) await t?.stack.stop();
  await rm(t?.dataDir ?? "", { recursive: true, force: true });
});

/** A queued job whose only message sits in the dead-letter queue, as after an outage. */
async function deadLetteredJob(stack: LocalStack, n: number): Promise<string> {
  const dynamodb = new DynamoDBClient(localClientConfig(stack.endpoints.dynamodb));
  const sqs = new SQSClient(localClientConfig(stack.endpoints.sqsS3));
  const now = new Date().toISOString();
  const job: Job = {
    tenant: TENANT_A.tenant,
    id: crypto.randomUUID(),
    status: "queued",
    createdAt: now,
    updatedAt: now,
    attempts: 0,
    request: {
      template: { html: "<p>redriven {{ n }}</p>" },
      data: { n },
      output: { format: "png", width: 100, height: 50, scale: 1 },
    },
  };
  await new DynamoDbJobStore(dynamodb, stack.names.jobsTable).create(job);
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: stack.queues.deadLetterQueueUrl,
      MessageBody: JSON.stringify({ tenant: job.tenant, jobId: job.id }),
    }),
  );
  dynamodb.destroy();
  sqs.destroy();
  return job.id;
}

describe("kiln redrive", () => {
  it("moves dead-lettered messages back into the running local stack, which finishes their jobs", async () => {
    const stuck = await deadLetteredJob(t.stack, 1);
    const failed = await t.clientA.submitRender({
      template: { html: "{{ 'logo' | asset_url }}" },
      output: { format: "png" },
    });
    expect((await t.clientA.waitFor(failed.id)).status).toBe("failed");
    const sqs = new SQSClient(localClientConfig(t.stack.endpoints.sqsS3));
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: t.stack.queues.deadLetterQueueUrl,
        MessageBody: JSON.stringify({ tenant: TENANT_A.tenant, jobId: failed.id }),
      }),
    );

    const { code, stdout } = await kiln("redrive", "--data-dir", t.dataDir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Moved 2 messages from .*kiln-render-dlq to .*kiln-render\.$/m);

    expect((await t.clientA.waitFor(stuck)).status).toBe("succeeded");
    // A terminal job stays as it was: the redriven message is skipped.
    expect((await t.clientA.getRender(failed.id)).status).toBe("failed");
    const left = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: t.stack.queues.deadLetterQueueUrl, WaitTimeSeconds: 1 }),
    );
    expect(left.Messages ?? []).toHaveLength(0);
    sqs.destroy();
  });

  it("moves the batch fan-out queue's dead letters back with --queue batches", async () => {
    const sqs = new SQSClient(localClientConfig(t.stack.endpoints.sqsS3));
    const dlq = t.stack.batchQueues.deadLetterQueueUrl;
    // A completion check of a batch that no longer exists: the fan-out settles it as done.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: JSON.stringify({ kind: "check", tenant: TENANT_A.tenant, batchId: "gone" }),
      }),
    );

    const { code, stdout } = await kiln("redrive", "--queue", "batches", "--data-dir", t.dataDir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Moved 1 message from .*kiln-batches-dlq to .*kiln-batches\.$/m);
    const left = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1 }));
    expect(left.Messages ?? []).toHaveLength(0);
    sqs.destroy();
  });

  it("redrives a stopped local stack's data dir, and the jobs run at the next start", async () => {
    const stuck = await deadLetteredJob(t.stack, 2);
    firstStopped = true;
    await t.stack.stop();

    const { code, stdout } = await kiln("redrive", "--data-dir", t.dataDir);
    expect(code).toBe(0);
    expect(stdout).toContain("Moved 1 message from");

    restarted = await startLocalStack({
      dataDir: t.dataDir,
      apiPort: 0,
      apiKeys: `${TENANT_A.tenant}=${TENANT_A.apiKey}`,
      logger: silentLogger,
    });
    const client = new KilnClient({ baseUrl: restarted.apiUrl, apiKey: TENANT_A.apiKey });
    expect((await client.waitFor(stuck)).status).toBe("succeeded");
  });

  it("refuses bad options with exit code 2", async () => {
    expect((await kiln("redrive", "--queue", "nope")).code).toBe(2);
    expect((await kiln("redrive", "--to", "http://x")).code).toBe(2);
    const help = await kiln("redrive", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("kiln redrive [--queue render|webhooks|batches]");
  });
});
