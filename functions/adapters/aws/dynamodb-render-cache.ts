import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { JobOutput } from "../../core/job.js";
import type { RenderCache, RenderCacheEntry } from "../../core/render-cache.js";
import { expiresAtEpoch, jobsTableClient, PK, renderCacheItemKey, TTL } from "./jobs-table.js";

interface RenderCacheItem {
  key: string;
  sourceJobId: string;
  output: JobOutput;
  createdAt: string;
  expiresAt: string;
  /** Epoch ms of `expiresAt`, for the put's condition. */
  expiresAtMs: number;
  /** DynamoDB's TTL deletes the item some time after this; reads do not rely on it. */
  [TTL]: number;
}

/**
 * Render-cache entries in the jobs table, one item per tenant and key. The api reads one (GetItem,
 * eventually consistent: an entry written a moment ago only saves a render once it is seen); the worker
 * writes one with a put that succeeds only where no live entry is, so the first output of a key stays.
 */
export class DynamoDbRenderCache implements RenderCache {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  async get(tenant: string, key: string, now: Date): Promise<RenderCacheEntry | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: renderCacheItemKey(tenant, key) }),
    );
    const item = Item as RenderCacheItem | undefined;
    if (!item || item.expiresAtMs <= now.getTime()) return undefined;
    const { sourceJobId, output, createdAt, expiresAt } = item;
    return { key: item.key, sourceJobId, output, createdAt, expiresAt };
  }

  async put(tenant: string, entry: RenderCacheEntry, now: Date): Promise<void> {
    const expiresAtMs = Date.parse(entry.expiresAt);
    const item: RenderCacheItem = { ...entry, expiresAtMs, [TTL]: expiresAtEpoch(expiresAtMs) };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...renderCacheItemKey(tenant, entry.key), ...item },
          ConditionExpression: "attribute_not_exists(#pk) OR #expiresAtMs <= :now",
          ExpressionAttributeNames: { "#pk": PK, "#expiresAtMs": "expiresAtMs" },
          ExpressionAttributeValues: { ":now": now.getTime() },
        }),
      );
    } catch (err) {
      // A live entry holds the key: the same inputs, so the same bytes.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}
