import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { hashApiKey } from "../../core/api-keys.js";
import type { ApiKeyStore } from "../../core/ports.js";
import { apiKeyItemKey, jobsTableClient } from "./jobs-table.js";

export interface ApiKeyCacheOptions {
  /**
   * How long a key found in the table is trusted without reading it again: a key deleted from the
   * table stops working within this time. Keys not found are never kept.
   * @default 30000
   */
  readonly ttlMs?: number;
  /** @default 1000 */
  readonly maxKeys?: number;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
}

/**
 * API keys share the jobs table, one item per key hash.
 *
 * Every API request looks its key up; a warm container keeps the keys it found for a short while,
 * the way API Gateway caches an authorizer's answer, instead of reading the table on every request.
 */
export class DynamoDbApiKeyStore implements ApiKeyStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly ttlMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** By key hash, oldest first: the tenant, and until when it is trusted (epoch ms). */
  private readonly found = new Map<string, { readonly tenant: string; readonly untilMs: number }>();

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    cache: ApiKeyCacheOptions = {},
  ) {
    this.db = jobsTableClient(client);
    this.ttlMs = cache.ttlMs ?? 30_000;
    this.maxKeys = cache.maxKeys ?? 1000;
    this.now = cache.now ?? Date.now;
  }

  async tenantFor(apiKey: string): Promise<string | undefined> {
    const hash = hashApiKey(apiKey);
    const kept = this.found.get(hash);
    if (kept && kept.untilMs > this.now()) return kept.tenant;
    this.found.delete(hash);
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: apiKeyItemKey(hash) }),
    );
    const tenant = typeof Item?.tenant === "string" ? Item.tenant : undefined;
    if (tenant !== undefined && this.ttlMs > 0) this.keep(hash, tenant);
    return tenant;
  }

  async register(tenant: string, apiKey: string): Promise<void> {
    const hash = hashApiKey(apiKey);
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { ...apiKeyItemKey(hash), tenant } }),
    );
    this.found.delete(hash);
  }

  private keep(hash: string, tenant: string): void {
    if (this.found.size >= this.maxKeys) {
      const oldest = this.found.keys().next();
      if (!oldest.done) this.found.delete(oldest.value);
    }
    this.found.set(hash, { tenant, untilMs: this.now() + this.ttlMs });
  }
}
