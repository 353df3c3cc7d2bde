import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { JOBS_TABLE } from "../../core/constants.js";
import type { WebhookSecretStore } from "../../core/ports.js";
import { generateWebhookSecret } from "../../core/webhooks.js";
import { documentClient } from "./dynamodb-job-store.js";

export function webhookSecretItemKey(tenant: string) {
  return { [JOBS_TABLE.partitionKey.name]: `TENANT#${tenant}#WEBHOOK`, [JOBS_TABLE.sortKey.name]: "SECRET" };
}

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
    this.db = documentClient(client);
  }

  async getOrCreate(tenant: string): Promise<string> {
    const existing = await this.read(tenant);
    if (existing) return existing;
    const secret = generateWebhookSecret();
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...webhookSecretItemKey(tenant), secret, createdAt: new Date().toISOString() },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": JOBS_TABLE.partitionKey.name },
        }),
      );
      return secret;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const winner = await this.read(tenant);
      if (!winner) throw new Error(`The webhook secret of tenant ${tenant} vanished while it was created.`);
      return winner;
    }
  }

  private async read(tenant: string): Promise<string | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: webhookSecretItemKey(tenant), ConsistentRead: true }),
    );
    return typeof Item?.secret === "string" ? Item.secret : undefined;
  }
}
