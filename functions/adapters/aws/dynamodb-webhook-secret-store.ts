import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { WebhookSecretStore } from "../../core/ports.js";
import { generateWebhookSecret } from "../../core/webhooks.js";
import { jobsTableClient, putIfAbsent, webhookSecretItemKey } from "./jobs-table.js";

/**
 * One signing secret per tenant in the jobs table, created on first use. Two first uses at once both
 * try a conditional put; the loser reads the winner's secret, so a tenant never sees two.
 */
export class DynamoDbWebhookSecretStore implements WebhookSecretStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  async getOrCreate(tenant: string): Promise<string> {
    const existing = await this.read(tenant);
    if (existing) return existing;
    const secret = generateWebhookSecret();
    const item = { ...webhookSecretItemKey(tenant), secret, createdAt: new Date().toISOString() };
    if ((await putIfAbsent(this.db, this.tableName, item)) === "created") return secret;
    const winner = await this.read(tenant);
    if (!winner) throw new Error(`The webhook secret of tenant ${tenant} vanished while it was created.`);
    return winner;
  }

  private async read(tenant: string): Promise<string | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: webhookSecretItemKey(tenant), ConsistentRead: true }),
    );
    return typeof Item?.secret === "string" ? Item.secret : undefined;
  }
}
