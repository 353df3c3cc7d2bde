import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { PdfMetadata } from "../../core/pdf-metadata.js";
import type { TemplateVersion, TemplateVersionStore } from "../../core/templates.js";
import {
  jobsTableClient,
  PK,
  putIfAbsent,
  queryAll,
  SK,
  TEMPLATE_INDEX_PREFIX,
  TEMPLATE_VERSION_PREFIX,
  templateIndexItemKey,
  templateIndexPartition,
  templateVersionItemKey,
  templateVersionsPartition,
} from "./jobs-table.js";

interface TemplateVersionItem {
  id: string;
  version: number;
  createdAt: string;
  sha256: string;
  bytes: number;
  /** JSON text, so the schema comes back exactly as it was uploaded. */
  schemaJson?: string;
  /** Present (true) only for versions that run their own scripts. */
  javascript?: boolean;
  /** JSON text, like the schema. */
  pdfMetadataJson?: string;
}

/**
 * Template versions in the jobs table. A new number is claimed with a conditional put; there are no
 * transactions (and the local stand-in has none), and none are needed: the loser of a race reads the
 * new latest and tries the next number.
 */
export class DynamoDbTemplateStore implements TemplateVersionStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  async latest(tenant: string, id: string): Promise<TemplateVersion | undefined> {
    const { Items } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
        ExpressionAttributeValues: {
          ":pk": templateVersionsPartition(tenant, id),
          ":prefix": TEMPLATE_VERSION_PREFIX,
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = Items?.[0] as TemplateVersionItem | undefined;
    return item ? fromItem(item) : undefined;
  }

  async create(tenant: string, version: TemplateVersion): Promise<"created" | "exists"> {
    const item: TemplateVersionItem = {
      id: version.id,
      version: version.version,
      createdAt: version.createdAt,
      sha256: version.sha256,
      bytes: version.bytes,
      ...(version.schema ? { schemaJson: JSON.stringify(version.schema) } : {}),
      ...(version.javascript ? { javascript: true } : {}),
      ...(version.pdfMetadata ? { pdfMetadataJson: JSON.stringify(version.pdfMetadata) } : {}),
    };
    const stored = await putIfAbsent(this.db, this.tableName, {
      ...templateVersionItemKey(tenant, version.id, version.version),
      tenant,
      ...item,
    });
    if (stored === "exists") return "exists";
    await this.#index(tenant, item);
    return "created";
  }

  /**
   * Points the tenant's template index at this version unless a later one is already there. Written
   * after the version itself: if this write is lost, the listing shows the previous latest until
   * the next upload, and no version is ever listed that does not exist.
   */
  async #index(tenant: string, item: TemplateVersionItem): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...templateIndexItemKey(tenant, item.id), tenant, ...item },
          ConditionExpression: "attribute_not_exists(#pk) OR #version < :version",
          ExpressionAttributeNames: { "#pk": PK, "#version": "version" },
          ExpressionAttributeValues: { ":version": item.version },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async latestOfEach(tenant: string): Promise<TemplateVersion[]> {
    return this.#versionsUnder(templateIndexPartition(tenant), TEMPLATE_INDEX_PREFIX, false);
  }

  async get(tenant: string, id: string, version: number): Promise<TemplateVersion | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: templateVersionItemKey(tenant, id, version),
        ConsistentRead: true,
      }),
    );
    return Item ? fromItem(Item as TemplateVersionItem) : undefined;
  }

  async list(tenant: string, id: string): Promise<TemplateVersion[]> {
    return this.#versionsUnder(templateVersionsPartition(tenant, id), TEMPLATE_VERSION_PREFIX, true);
  }

  /** Every item of `partition` whose sort key starts with `prefix`, across pages. */
  async #versionsUnder(
    partition: string,
    prefix: string,
    consistentRead: boolean,
  ): Promise<TemplateVersion[]> {
    const items = await queryAll<TemplateVersionItem>(this.db, {
      TableName: this.tableName,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
      ExpressionAttributeValues: { ":pk": partition, ":prefix": prefix },
      ...(consistentRead ? { ConsistentRead: true } : {}),
    });
    return items.map(fromItem);
  }
}

function fromItem(item: TemplateVersionItem): TemplateVersion {
  return {
    id: item.id,
    version: Number(item.version),
    createdAt: item.createdAt,
    sha256: item.sha256,
    bytes: Number(item.bytes),
    ...(item.schemaJson ? { schema: JSON.parse(item.schemaJson) as Record<string, unknown> } : {}),
    ...(item.javascript === true ? { javascript: true } : {}),
    ...(item.pdfMetadataJson ? { pdfMetadata: JSON.parse(item.pdfMetadataJson) as PdfMetadata } : {}),
  };
}
