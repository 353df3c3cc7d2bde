import { createHash } from "node:crypto";
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  PutCommand,
  paginateQuery,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { JOB_RETENTION_DAYS, JOBS_TABLE, OPEN_JOBS_INDEX } from "../../core/constants.js";

/**
 * The jobs table, as every store in it sees it: the keys of each kind of item, the document client,
 * expiry, and the reads and writes the stores share. The table's own definition (key schema, TTL
 * attribute, indexes) is in core/constants.ts, shared with the CDK app and the local stack.
 *
 * Every item of a tenant has the tenant in its partition key, so a read for one tenant can never
 * address another tenant's item.
 */

export const PK = JOBS_TABLE.partitionKey.name;
export const SK = JOBS_TABLE.sortKey.name;
export const TTL = JOBS_TABLE.timeToLiveAttribute;

/** Sort keys of a job's two items, which share its partition. */
const JOB_SK = "JOB";
export const JOB_REQUEST_SK = "REQUEST";

/** Prefix of the sort keys of a template's versions. */
export const TEMPLATE_VERSION_PREFIX = "VERSION#";
/** Prefix of the sort keys in a tenant's template index. */
export const TEMPLATE_INDEX_PREFIX = "TEMPLATE#";

export type ItemKey = Record<string, string>;

function itemKey(partition: string, sort: string): ItemKey {
  return { [PK]: partition, [SK]: sort };
}

function jobPartition(tenant: string, id: string): string {
  return `TENANT#${tenant}#JOB#${id}`;
}

/** A job's status item. */
export function jobItemKey(tenant: string, id: string): ItemKey {
  return itemKey(jobPartition(tenant, id), JOB_SK);
}

/** The item that holds a job's request, beside its status item. */
export function jobRequestItemKey(tenant: string, id: string): ItemKey {
  return itemKey(jobPartition(tenant, id), JOB_REQUEST_SK);
}

export function batchItemKey(tenant: string, id: string): ItemKey {
  return itemKey(`TENANT#${tenant}#BATCH#${id}`, "BATCH");
}

/** Partition of the batch-jobs index: one batch of one tenant. */
export function batchJobsPartition(tenant: string, batchId: string): string {
  return `TENANT#${tenant}#BATCH#${batchId}`;
}

/** The open-jobs index partition of a job: one of OPEN_JOBS_INDEX.shards, by its key. */
export function openJobsShard(tenant: string, id: string): string {
  const n = createHash("sha256").update(`${tenant}/${id}`).digest().readUInt32BE(0) % OPEN_JOBS_INDEX.shards;
  return `OPEN#${n}`;
}

/** Every open-jobs index partition. */
export function openJobsShards(): string[] {
  return Array.from({ length: OPEN_JOBS_INDEX.shards }, (_, n) => `OPEN#${n}`);
}

/** Idempotency keys are stored hashed: clients may put anything printable in them. */
export function idempotencyItemKey(tenant: string, key: string): ItemKey {
  const digest = createHash("sha256").update(key, "utf8").digest("hex");
  return itemKey(`TENANT#${tenant}#IDEMPOTENCY#${digest}`, "IDEMPOTENCY");
}

/** A render-cache entry: the output of a tenant's inputs, by the digest of those inputs (render-cache.ts). */
export function renderCacheItemKey(tenant: string, key: string): ItemKey {
  return itemKey(`TENANT#${tenant}#CACHE#${key}`, "CACHE");
}

/** An API key's item, by the key's hash (core/api-keys.ts); the key itself is never stored. */
export function apiKeyItemKey(keyHash: string): ItemKey {
  return itemKey(`${API_KEY_PARTITION_PREFIX}${keyHash}`, "APIKEY");
}

export function tenantSettingsItemKey(tenant: string): ItemKey {
  return itemKey(`TENANT#${tenant}#SETTINGS`, "SETTINGS");
}

export function webhookSecretItemKey(tenant: string): ItemKey {
  return itemKey(`TENANT#${tenant}#WEBHOOK`, "SECRET");
}

/** All versions of one template share a partition. */
export function templateVersionsPartition(tenant: string, id: string): string {
  return `TENANT#${tenant}#TEMPLATE#${id}`;
}

/** Zero-padded, so that sort keys order versions numerically. */
export function templateVersionItemKey(tenant: string, id: string, version: number): ItemKey {
  return itemKey(
    templateVersionsPartition(tenant, id),
    `${TEMPLATE_VERSION_PREFIX}${String(version).padStart(10, "0")}`,
  );
}

/** One item per template holding a copy of its latest version, so a tenant's templates list with one query. */
export function templateIndexPartition(tenant: string): string {
  return `TENANT#${tenant}#TEMPLATES`;
}

export function templateIndexItemKey(tenant: string, id: string): ItemKey {
  return itemKey(templateIndexPartition(tenant), `${TEMPLATE_INDEX_PREFIX}${id}`);
}

export function jobsTableClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The TTL attribute's value for an item that expires at `epochMs`: epoch seconds, rounded up. */
export function expiresAtEpoch(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}

/** The TTL of an item kept as long as jobs are: `retentionDays` after `createdAt`. */
export function retentionExpiry(createdAt: string, retentionDays: number = JOB_RETENTION_DAYS): number {
  return Math.floor(Date.parse(createdAt) / 1000) + retentionDays * 86_400;
}

/** DynamoDB deletes expired items lazily (and the local stand-in never does): reads check the TTL. */
export function isExpired(item: Record<string, unknown>, nowMs: number): boolean {
  return Number(item[TTL]) * 1000 < nowMs;
}

/** Puts `item` unless an item with its key exists: `exists` then, and nothing is written. */
export async function putIfAbsent(
  db: DynamoDBDocumentClient,
  tableName: string,
  item: Record<string, unknown>,
): Promise<"created" | "exists"> {
  try {
    await db.send(
      new PutCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": PK },
      }),
    );
    return "created";
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return "exists";
    throw err;
  }
}

/** The items of a query, across all its pages; `Item` is what the query's items hold. */
export async function queryAll<Item>(db: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of paginateQuery({ client: db }, input)) {
    for (const item of page.Items ?? []) items.push(item as Item);
  }
  return items;
}

/** The items of a query, page by page, without holding them all. */
export async function* queryItems<Item>(
  db: DynamoDBDocumentClient,
  input: QueryCommandInput,
): AsyncIterable<Item> {
  for await (const page of paginateQuery({ client: db }, input)) {
    for (const item of page.Items ?? []) yield item as Item;
  }
}

/** Prefix of every partition key of a tenant's items (tenant names hold no `#`, so none is another's). */
export function tenantPartitionPrefix(tenant: string): string {
  return `TENANT#${tenant}#`;
}

/** Prefix of every API key item's partition key. */
export const API_KEY_PARTITION_PREFIX = "APIKEY#";

/** The registry of tenants: one partition, one item per tenant, so listing them is one Query. */
export const TENANT_REGISTRY_PARTITION = "TENANTS";

export function tenantRecordItemKey(tenant: string): ItemKey {
  return itemKey(TENANT_REGISTRY_PARTITION, `TENANT#${tenant}`);
}
