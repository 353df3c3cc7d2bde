import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { TenantSettingsStore } from "../../core/ports.js";
import { type TenantSettings, TenantSettingsSchema } from "../../core/tenant-settings.js";
import { jobsTableClient, tenantSettingsItemKey } from "./jobs-table.js";

/** One item per tenant in the jobs table, replaced whole on every PUT. */
export class DynamoDbTenantSettingsStore implements TenantSettingsStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  async get(tenant: string): Promise<TenantSettings | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: tenantSettingsItemKey(tenant), ConsistentRead: true }),
    );
    return Item ? settingsFromItem(tenant, Item) : undefined;
  }

  async put(tenant: string, settings: TenantSettings, now: Date): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...tenantSettingsItemKey(tenant), settings, updatedAt: now.toISOString() },
      }),
    );
  }
}

/** The settings of a stored settings item, parsed again so that an item written by an older Kiln gets today's defaults. */
export function settingsFromItem(tenant: string, item: Record<string, unknown>): TenantSettings {
  const parsed = TenantSettingsSchema.safeParse(item.settings);
  if (!parsed.success) throw new Error(`The stored settings of tenant ${tenant} are not valid settings.`);
  return parsed.data;
}
