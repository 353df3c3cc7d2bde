import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { hashApiKey } from "../../core/api-keys.js";
import { JOBS_TABLE } from "../../core/constants.js";
import type { ApiKeyStore } from "../../core/ports.js";
import { documentClient } from "./dynamodb-job-store.js";

/** API keys share the jobs table as `APIKEY#<sha256>` items; the key itself is never stored. */
export function apiKeyItemKey(apiKey: string) {
  return {
    [JOBS_TABLE.partitionKey.name]: `APIKEY#${hashApiKey(apiKey)}`,
    [JOBS_TABLE.sortKey.name]: "APIKEY",
  };
}

export class DynamoDbApiKeyStore implements ApiKeyStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = documentClient(client);
  }

  async tenantFor(apiKey: string): Promise<string | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: apiKeyItemKey(apiKey) }),
    );
    return typeof Item?.tenant === "string" ? Item.tenant : undefined;
  }

  async register(tenant: string, apiKey: string): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { ...apiKeyItemKey(apiKey), tenant } }),
    );
  }
}
