import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { IdempotencyRecord, IdempotencyStore } from "../../core/ports.js";
import { expiresAtEpoch, idempotencyItemKey, jobsTableClient, PK, TTL } from "./jobs-table.js";

interface IdempotencyItem {
  key: string;
  fingerprint: string;
  jobId: string;
  createdAt: string;
  expiresAtMs: number;
  /** DynamoDB's TTL deletes the item some time after this; reads do not rely on it. */
  [TTL]: number;
}

/**
 * Idempotency records in the jobs table. A claim is one conditional put that succeeds when no record
 * exists or the existing one has expired — DynamoDB deletes expired items only eventually (and the
 * local stand-in never), so expiry is decided by the condition and by reads, not by the deletion.
 */
export class DynamoDbIdempotencyStore implements IdempotencyStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  async claim(tenant: string, candidate: IdempotencyRecord, now: Date) {
    const Key = idempotencyItemKey(tenant, candidate.key);
    // Two tries: a record that expires between the failed put and the read is claimed on the second.
    for (let attempt = 1; ; attempt++) {
      try {
        const item: IdempotencyItem = { ...candidate, [TTL]: expiresAtEpoch(candidate.expiresAtMs) };
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...Key, ...item },
            ConditionExpression: "attribute_not_exists(#pk) OR #expiresAtMs <= :now",
            ExpressionAttributeNames: { "#pk": PK, "#expiresAtMs": "expiresAtMs" },
            ExpressionAttributeValues: { ":now": now.getTime() },
          }),
        );
        return { record: candidate, claimed: true };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
      const { Item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
      );
      const existing = Item as IdempotencyItem | undefined;
      if (existing && existing.expiresAtMs > now.getTime()) {
        const { key, fingerprint, jobId, createdAt, expiresAtMs } = existing;
        return { record: { key, fingerprint, jobId, createdAt, expiresAtMs }, claimed: false };
      }
      if (attempt >= 2) throw new Error("The idempotency record kept changing; retry the request.");
    }
  }
}
