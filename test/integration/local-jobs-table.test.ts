import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH_JOBS_INDEX, JOBS_TABLE, OPEN_JOBS_INDEX } from "../../functions/core/constants.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { ensureJobsTable } from "../../functions/local/resources.js";
import { type StandIn, startDynamoDbStandIn } from "../../functions/local/stand-ins.js";

/** A data dir kept from before the batch-jobs index: its jobs table is rebuilt with the index, items kept. */
let dataDir: string;
let dynalite: StandIn;
let client: DynamoDBClient;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "kiln-jobs-table-"));
  dynalite = await startDynamoDbStandIn({ port: 0, dataDir });
  client = new DynamoDBClient(localClientConfig(dynalite.endpoint));
});
afterAll(async () => {
  client?.destroy();
  await dynalite?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const { partitionKey, sortKey } = JOBS_TABLE;

describe("ensureJobsTable on a table without the batch-jobs and open-jobs indexes", () => {
  it("adds the index and keeps every item", async () => {
    await client.send(
      new CreateTableCommand({
        TableName: "old-jobs",
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: partitionKey.name, KeyType: "HASH" },
          { AttributeName: sortKey.name, KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: partitionKey.name, AttributeType: partitionKey.type },
          { AttributeName: sortKey.name, AttributeType: sortKey.type },
        ],
      }),
    );
    // More than one BatchWriteItem's worth (25), so the restore is paged.
    for (let i = 0; i < 60; i++) {
      await client.send(
        new PutItemCommand({
          TableName: "old-jobs",
          Item: {
            [partitionKey.name]: { S: `TENANT#acme#JOB#${i}` },
            [sortKey.name]: { S: "JOB" },
            status: { S: "succeeded" },
            payload: { B: Buffer.from([i, 255 - i]) },
          },
        }),
      );
    }

    await ensureJobsTable(client, "old-jobs", dataDir);

    const { Table } = await client.send(new DescribeTableCommand({ TableName: "old-jobs" }));
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(
      [BATCH_JOBS_INDEX.indexName, OPEN_JOBS_INDEX.indexName].sort(),
    );
    for (const i of [0, 24, 25, 59]) {
      const { Item } = await client.send(
        new GetItemCommand({
          TableName: "old-jobs",
          Key: { [partitionKey.name]: { S: `TENANT#acme#JOB#${i}` }, [sortKey.name]: { S: "JOB" } },
          ConsistentRead: true,
        }),
      );
      expect(Item?.status?.S).toBe("succeeded");
      expect([...(Item?.payload?.B ?? [])]).toEqual([i, 255 - i]);
    }
    // The safety copy is gone once the items are back.
    expect((await readdir(dataDir)).filter((f) => f.endsWith(".json"))).toEqual([]);

    // Idempotent: a second start changes nothing.
    await ensureJobsTable(client, "old-jobs", dataDir);
    const { Count } = await client.send(
      new ScanCommand({ TableName: "old-jobs", Select: "COUNT", ConsistentRead: true }),
    );
    expect(Count).toBe(60);
  });
});
