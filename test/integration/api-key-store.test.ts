import { DeleteItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbApiKeyStore } from "../../functions/adapters/aws/dynamodb-api-key-store.js";
import { apiKeyItemKey } from "../../functions/adapters/aws/jobs-table.js";
import { hashApiKey } from "../../functions/core/api-keys.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { ensureJobsTable } from "../../functions/local/resources.js";
import { type StandIn, startDynamoDbStandIn } from "../../functions/local/stand-ins.js";

let dynalite: StandIn;
let client: DynamoDBClient;
let reads = 0;
beforeAll(async () => {
  dynalite = await startDynamoDbStandIn({ port: 0 });
  client = new DynamoDBClient(localClientConfig(dynalite.endpoint));
  await ensureJobsTable(client, "keys");
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "GetItemCommand") reads += 1;
      return next(args);
    },
    { step: "initialize" },
  );
});
afterAll(async () => {
  client?.destroy();
  await dynalite?.stop();
});

const deleteKey = (apiKey: string) =>
  client.send(new DeleteItemCommand({ TableName: "keys", Key: marshall(apiKeyItemKey(hashApiKey(apiKey))) }));

describe("DynamoDbApiKeyStore", () => {
  it("keeps a key it found for its TTL and reads the table again after it", async () => {
    let nowMs = 0;
    const keys = new DynamoDbApiKeyStore(client, "keys", { ttlMs: 30_000, now: () => nowMs });
    await keys.register("acme", "kiln_kept");
    reads = 0;
    expect(await keys.tenantFor("kiln_kept")).toBe("acme");
    expect(await keys.tenantFor("kiln_kept")).toBe("acme");
    expect(reads).toBe(1);

    // Deleted from the table: still trusted until its TTL runs out, then refused.
    await deleteKey("kiln_kept");
    nowMs = 29_999;
    expect(await keys.tenantFor("kiln_kept")).toBe("acme");
    nowMs = 30_000;
    expect(await keys.tenantFor("kiln_kept")).toBeUndefined();
    expect(reads).toBe(2);
  });

  it("never keeps a key it did not find: one registered afterwards works at once", async () => {
    const keys = new DynamoDbApiKeyStore(client, "keys", { now: () => 0 });
    expect(await keys.tenantFor("kiln_later")).toBeUndefined();
    await new DynamoDbApiKeyStore(client, "keys").register("globex", "kiln_later");
    expect(await keys.tenantFor("kiln_later")).toBe("globex");
  });

  it("keeps at most maxKeys, dropping the oldest", async () => {
    const keys = new DynamoDbApiKeyStore(client, "keys", { maxKeys: 2, now: () => 0 });
    for (const key of ["kiln_a", "kiln_b", "kiln_c"]) await keys.register("acme", key);
    reads = 0;
    for (const key of ["kiln_a", "kiln_b", "kiln_c"]) await keys.tenantFor(key);
    expect(reads).toBe(3);
    await keys.tenantFor("kiln_c");
    await keys.tenantFor("kiln_b");
    expect(reads).toBe(3);
    await keys.tenantFor("kiln_a");
    expect(reads).toBe(4);
  });
});
