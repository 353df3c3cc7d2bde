/**
 * The stores behind `kiln tenants` (core/tenants.ts): the tenant registry and API key items in the
 * jobs table, and everything of one tenant in the table and the buckets. Used by the CLI only, with the
 * operator's credentials; no Kiln function has these permissions.
 *
 * Finding a tenant's table items is a Scan filtered on the partition key's prefix: DynamoDB has no
 * prefix query on a partition key, and an index for an operation run once per tenant's lifetime would
 * cost a write on every item. The Scan reads (and bills) the whole table; see docs/deploy.md.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
} from "@aws-sdk/lib-dynamodb";
import { ASSETS } from "../../core/assets.js";
import { BATCHES } from "../../core/batches.js";
import { OUTPUTS, PAYLOADS } from "../../core/constants.js";
import { TEMPLATES } from "../../core/templates.js";
import type {
  ApiKeyAdmin,
  ApiKeyRecord,
  TenantDataKind,
  TenantDataStore,
  TenantRecord,
  TenantRegistry,
  TenantThing,
} from "../../core/tenants.js";
import {
  API_KEY_PARTITION_PREFIX,
  apiKeyItemKey,
  type ItemKey,
  JOB_REQUEST_SK,
  jobsTableClient,
  PK,
  queryAll,
  SK,
  TENANT_REGISTRY_PARTITION,
  tenantPartitionPrefix,
  tenantRecordItemKey,
} from "./jobs-table.js";

export class DynamoDbTenantRegistry implements TenantRegistry {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  async get(tenant: string): Promise<TenantRecord | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: tenantRecordItemKey(tenant), ConsistentRead: true }),
    );
    return Item ? recordOf(Item) : undefined;
  }

  async put(record: TenantRecord): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...tenantRecordItemKey(record.tenant), ...record },
      }),
    );
  }

  async list(): Promise<TenantRecord[]> {
    const items = await queryAll<Record<string, unknown>>(this.db, {
      TableName: this.tableName,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": PK },
      ExpressionAttributeValues: { ":pk": TENANT_REGISTRY_PARTITION },
      ConsistentRead: true,
    });
    return items.map(recordOf);
  }

  async delete(tenant: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: tenantRecordItemKey(tenant) }));
  }
}

function recordOf(item: Record<string, unknown>): TenantRecord {
  return { tenant: String(item.tenant), tier: String(item.tier), createdAt: String(item.createdAt) };
}

/** API key items: `APIKEY#<sha256>` → tenant, with what an operator recognises the key by. */
export class DynamoDbApiKeyAdmin implements ApiKeyAdmin {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  /** A Scan: key items are addressed by hash, not by tenant (see the file's comment). */
  async list(tenant?: string): Promise<ApiKeyRecord[]> {
    const keys: ApiKeyRecord[] = [];
    const pages = paginateScan(
      { client: this.db },
      {
        TableName: this.tableName,
        ConsistentRead: true,
        FilterExpression: `begins_with(#pk, :prefix)${tenant === undefined ? "" : " AND #tenant = :tenant"}`,
        ExpressionAttributeNames: { "#pk": PK, ...(tenant === undefined ? {} : { "#tenant": "tenant" }) },
        ExpressionAttributeValues: {
          ":prefix": API_KEY_PARTITION_PREFIX,
          ...(tenant === undefined ? {} : { ":tenant": tenant }),
        },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const keyHash = String(item[PK]).slice(API_KEY_PARTITION_PREFIX.length);
        keys.push({
          tenant: String(item.tenant),
          keyHash,
          keyId: keyHash.slice(0, 12),
          ...(typeof item.prefix === "string" ? { prefix: item.prefix } : {}),
          ...(typeof item.createdAt === "string" ? { createdAt: item.createdAt } : {}),
          ...(typeof item.gatewayKeyId === "string" ? { gatewayKeyId: item.gatewayKeyId } : {}),
        });
      }
    }
    return keys;
  }

  async add(record: ApiKeyRecord, _apiKey: string): Promise<void> {
    const { keyHash, keyId: _keyId, ...attributes } = record;
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: { ...apiKeyItemKey(keyHash), ...attributes } }),
    );
  }

  async remove(record: ApiKeyRecord): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: apiKeyItemKey(record.keyHash) }));
  }
}

/** The kind of a tenant's item, from the rest of its partition key after `TENANT#<tenant>#`. */
export function itemKindOf(partitionRest: string, sortKey: string): TenantDataKind {
  if (partitionRest.startsWith("JOB#")) return sortKey === JOB_REQUEST_SK ? "job requests" : "jobs";
  if (partitionRest.startsWith("BATCH#")) return "batches";
  if (partitionRest.startsWith("IDEMPOTENCY#")) return "idempotency keys";
  if (partitionRest.startsWith("TEMPLATE#")) return "template versions";
  if (partitionRest === "TEMPLATES") return "template index items";
  if (partitionRest === "SETTINGS") return "settings";
  if (partitionRest === "WEBHOOK") return "webhook secret";
  return "other items";
}

/** A tenant's items in the jobs table: every item whose partition key starts with `TENANT#<tenant>#`. */
export class DynamoDbTenantItems implements TenantDataStore<ItemKey> {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = jobsTableClient(client);
  }

  async *list(tenant: string): AsyncIterable<TenantThing<ItemKey>> {
    const prefix = tenantPartitionPrefix(tenant);
    const pages = paginateScan(
      { client: this.db },
      {
        TableName: this.tableName,
        ConsistentRead: true,
        ProjectionExpression: "#pk, #sk",
        FilterExpression: "begins_with(#pk, :prefix)",
        ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
        ExpressionAttributeValues: { ":prefix": prefix },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const pk = String(item[PK]);
        const sk = String(item[SK]);
        yield { kind: itemKindOf(pk.slice(prefix.length), sk), ref: { [PK]: pk, [SK]: sk } };
      }
    }
  }

  /** BatchWriteItem, 25 keys a call, until nothing is left unprocessed. */
  async delete(things: ReadonlyArray<TenantThing<ItemKey>>): Promise<void> {
    for (let i = 0; i < things.length; i += 25) {
      let pending = things.slice(i, i + 25).map((t) => ({ DeleteRequest: { Key: t.ref } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
        const { UnprocessedItems } = await this.db.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
        );
        pending = (UnprocessedItems?.[this.tableName] ?? []).flatMap((r) =>
          r.DeleteRequest?.Key ? [{ DeleteRequest: { Key: r.DeleteRequest.Key as ItemKey } }] : [],
        );
      }
    }
  }
}

/** Where a tenant's objects are in one bucket. */
export interface TenantPrefix {
  readonly kind: TenantDataKind;
  /** The prefix, from the tenant's name. */
  readonly prefix: (tenant: string) => string;
  /**
   * Only the objects directly under the prefix (no further `/`): job payloads are `requests/<tenant>/<id>.json`
   * while batch payloads are `requests/batches/<tenant>/…`, so a tenant called `batches` must not take
   * the other tenants' batch payloads with its own.
   */
  readonly flat?: boolean;
}

/**
 * A tenant's objects in one bucket. In a versioned bucket (the templates bucket on AWS) every version
 * and delete marker: a delete without a version id there would only add a marker. The local S3
 * stand-in keeps no versions (and answers a version listing as a plain listing without versions).
 */
export class S3TenantObjects implements TenantDataStore<ObjectIdentifier> {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefixes: readonly TenantPrefix[],
    private readonly versioned = false,
  ) {}

  async *list(tenant: string): AsyncIterable<TenantThing<ObjectIdentifier>> {
    for (const { kind, prefix, flat } of this.prefixes) {
      const input = { Bucket: this.bucket, Prefix: prefix(tenant), ...(flat ? { Delimiter: "/" } : {}) };
      const objects = this.versioned ? this.versions(input) : this.current(input);
      for await (const ref of objects) yield { kind, ref };
    }
  }

  private async *current(input: ListInput): AsyncIterable<ObjectIdentifier> {
    for await (const page of paginateListObjectsV2({ client: this.s3 }, input)) {
      for (const o of page.Contents ?? []) if (o.Key) yield { Key: o.Key };
    }
  }

  private async *versions(input: ListInput): AsyncIterable<ObjectIdentifier> {
    let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (;;) {
      const page = await this.s3.send(new ListObjectVersionsCommand({ ...input, ...markers }));
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key) yield { Key: v.Key, ...(v.VersionId ? { VersionId: v.VersionId } : {}) };
      }
      if (!page.IsTruncated) return;
      markers = {
        ...(page.NextKeyMarker ? { KeyMarker: page.NextKeyMarker } : {}),
        ...(page.NextVersionIdMarker ? { VersionIdMarker: page.NextVersionIdMarker } : {}),
      };
    }
  }

  async delete(things: ReadonlyArray<TenantThing<ObjectIdentifier>>): Promise<void> {
    for (let i = 0; i < things.length; i += 1000) {
      const { Errors } = await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: things.slice(i, i + 1000).map((t) => t.ref), Quiet: true },
        }),
      );
      const [first] = Errors ?? [];
      if (first) {
        throw new Error(
          `${Errors?.length} objects of ${this.bucket} were not deleted: ${first.Key}: ${first.Message}`,
        );
      }
    }
  }
}

interface ListInput {
  readonly Bucket: string;
  readonly Prefix: string;
  readonly Delimiter?: string;
}

/** The resources a tenant's data lives in. */
export interface TenantDataNames {
  readonly jobsTable: string;
  readonly templatesBucket: string;
  readonly assetsBucket: string;
  readonly outputsBucket: string;
  readonly payloadsBucket: string;
  /** The templates bucket keeps object versions (on AWS; the local stand-in has none). */
  readonly templatesVersioned: boolean;
}

/**
 * Every store of a tenant's data, with the key layouts of core/templates.ts, assets.ts,
 * render-job.ts, batches.ts and submit-render.ts.
 */
export function tenantDataStores(
  clients: { readonly dynamodb: DynamoDBClient; readonly s3: S3Client },
  names: TenantDataNames,
): Array<TenantDataStore<never>> {
  const { s3 } = clients;
  const stores: Array<TenantDataStore<ItemKey> | TenantDataStore<ObjectIdentifier>> = [
    new DynamoDbTenantItems(clients.dynamodb, names.jobsTable),
    new S3TenantObjects(
      s3,
      names.templatesBucket,
      [{ kind: "template objects", prefix: (t) => `${TEMPLATES.sourceKeyPrefix}${t}/` }],
      names.templatesVersioned,
    ),
    new S3TenantObjects(s3, names.assetsBucket, [
      { kind: "assets", prefix: (t) => `${ASSETS.keyPrefix}${t}/` },
    ]),
    new S3TenantObjects(s3, names.outputsBucket, [
      { kind: "outputs", prefix: (t) => `${OUTPUTS.keyPrefix}${t}/` },
    ]),
    new S3TenantObjects(s3, names.payloadsBucket, [
      { kind: "payloads", prefix: (t) => `${PAYLOADS.keyPrefix}${t}/`, flat: true },
      { kind: "payloads", prefix: (t) => `${BATCHES.payloadPrefix}${t}/` },
    ]),
  ];
  // Each store is handed back only the things it listed.
  return stores as Array<TenantDataStore<never>>;
}
