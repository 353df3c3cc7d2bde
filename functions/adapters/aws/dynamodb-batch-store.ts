import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Batch, BatchArtifacts, BatchClaim, BatchJobEntry, BatchStore } from "../../core/batches.js";
import { BATCH_JOBS_INDEX } from "../../core/constants.js";
import type { JobFailure, JobOutput, JobStatus } from "../../core/job.js";
import {
  batchItemKey,
  batchJobsPartition,
  isExpired,
  jobsTableClient,
  PK,
  putIfAbsent,
  queryAll,
  retentionExpiry,
  TTL,
} from "./jobs-table.js";

const INDEX_PK = BATCH_JOBS_INDEX.partitionKey.name;
const INDEX_SK = BATCH_JOBS_INDEX.sortKey.name;

/** Epoch ms of the latest claim of each kind. */
const CLAIMS = { check: "checkRequestedAt", zip: "zipStartedAt", merge: "mergeStartedAt" } as const;

interface BatchItem extends Batch {
  checkRequestedAt?: number;
  zipStartedAt?: number;
  mergeStartedAt?: number;
  [TTL]: number;
}

interface IndexedJob {
  id: string;
  status: JobStatus;
  batchIndex: number;
  output?: JobOutput;
  error?: JobFailure;
}

/**
 * Batch records in the jobs table, and the batch's jobs through the sparse batch-jobs index. Counts
 * are never stored: they are read from the jobs, whose state changes are single conditional writes.
 */
export class DynamoDbBatchStore implements BatchStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    /** Days a batch's item is kept. @default JOB_RETENTION_DAYS */
    private readonly retentionDays?: number,
  ) {
    this.db = jobsTableClient(client);
  }

  async create(batch: Batch): Promise<"created" | "exists"> {
    const item: BatchItem = { ...batch, [TTL]: retentionExpiry(batch.createdAt, this.retentionDays) };
    return putIfAbsent(this.db, this.tableName, { ...batchItemKey(batch.tenant, batch.id), ...item });
  }

  async get(tenant: string, id: string): Promise<Batch | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: batchItemKey(tenant, id), ConsistentRead: true }),
    );
    if (!Item || isExpired(Item, Date.now())) return undefined;
    const item = Item as BatchItem;
    return {
      tenant: item.tenant,
      id: item.id,
      createdAt: item.createdAt,
      total: Number(item.total),
      chunkSize: Number(item.chunkSize),
      zip: item.zip === true,
      ...(item.manifestKey ? { manifestKey: item.manifestKey } : {}),
      ...(item.zipKey ? { zipKey: item.zipKey } : {}),
      ...(item.zipBytes !== undefined ? { zipBytes: Number(item.zipBytes) } : {}),
      ...(item.zipError ? { zipError: item.zipError } : {}),
      mergePdf: item.mergePdf === true,
      ...(item.mergedKey ? { mergedKey: item.mergedKey } : {}),
      ...(item.mergedBytes !== undefined ? { mergedBytes: Number(item.mergedBytes) } : {}),
      ...(item.mergedError ? { mergedError: item.mergedError } : {}),
    };
  }

  async recordArtifacts(tenant: string, id: string, artifacts: BatchArtifacts): Promise<void> {
    const entries = Object.entries(artifacts).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchItemKey(tenant, id),
        UpdateExpression: `SET ${entries.map(([k]) => `#${k} = :${k}`).join(", ")}`,
        ConditionExpression: "attribute_exists(#pk)",
        ExpressionAttributeNames: {
          "#pk": PK,
          ...Object.fromEntries(entries.map(([k]) => [`#${k}`, k])),
        },
        ExpressionAttributeValues: Object.fromEntries(entries.map(([k, v]) => [`:${k}`, v])),
      }),
    );
  }

  async listJobs(
    tenant: string,
    batchId: string,
    range?: { from: number; to: number },
  ): Promise<BatchJobEntry[]> {
    const items = await queryAll<IndexedJob>(this.db, {
      TableName: this.tableName,
      IndexName: BATCH_JOBS_INDEX.indexName,
      KeyConditionExpression: range ? "#bpk = :bpk AND #bidx BETWEEN :from AND :to" : "#bpk = :bpk",
      ProjectionExpression: "#id, #status, #bidx, #output, #error",
      ExpressionAttributeNames: {
        "#bpk": INDEX_PK,
        "#bidx": INDEX_SK,
        "#id": "id",
        "#status": "status",
        "#output": "output",
        "#error": "error",
      },
      ExpressionAttributeValues: {
        ":bpk": batchJobsPartition(tenant, batchId),
        ...(range ? { ":from": range.from, ":to": range.to } : {}),
      },
    });
    return items.map((item) => ({
      index: Number(item.batchIndex),
      jobId: item.id,
      status: item.status,
      ...(item.output ? { output: item.output } : {}),
      ...(item.error ? { error: item.error } : {}),
    }));
  }

  async claim(tenant: string, id: string, what: BatchClaim, now: Date, intervalMs: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: batchItemKey(tenant, id),
          UpdateExpression: "SET #at = :now",
          ConditionExpression: "attribute_exists(#pk) AND (attribute_not_exists(#at) OR #at <= :before)",
          ExpressionAttributeNames: { "#pk": PK, "#at": CLAIMS[what] },
          ExpressionAttributeValues: { ":now": now.getTime(), ":before": now.getTime() - intervalMs },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
