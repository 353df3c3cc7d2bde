import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { JOB_RETENTION_DAYS, JOBS_TABLE } from "../../core/constants.js";
import {
  type Job,
  type JobFailure,
  type JobOutput,
  type JobStatus,
  statusesAllowedBefore,
} from "../../core/job.js";
import type { JobStore } from "../../core/ports.js";
import type { RenderRequest } from "../../core/render-request.js";

const PK = JOBS_TABLE.partitionKey.name;
const SK = JOBS_TABLE.sortKey.name;
const TTL = JOBS_TABLE.timeToLiveAttribute;

/** The tenant is part of the key, so one tenant's read can never address another tenant's job. */
export function jobKey(tenant: string, id: string) {
  return { [PK]: `TENANT#${tenant}#JOB#${id}`, [SK]: "JOB" };
}

interface JobItem {
  tenant: string;
  id: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  attempts: number;
  /** Stored as JSON text: keeps the submitted data byte-for-byte (key order, numbers, empty keys). */
  requestJson: string;
  output?: JobOutput;
  error?: JobFailure;
  [TTL]: number;
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export class DynamoDbJobStore implements JobStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.db = documentClient(client);
  }

  async create(job: Job): Promise<void> {
    const { request, ...rest } = job;
    const item: JobItem = {
      ...rest,
      requestJson: JSON.stringify(request),
      [TTL]: Math.floor(Date.parse(job.createdAt) / 1000) + JOB_RETENTION_DAYS * 86_400,
    };
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...jobKey(job.tenant, job.id), ...item },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": PK },
      }),
    );
  }

  async get(tenant: string, id: string): Promise<Job | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(tenant, id), ConsistentRead: true }),
    );
    return Item ? fromItem(Item as JobItem) : undefined;
  }

  async startAttempt(tenant: string, id: string, at: Date): Promise<Job | undefined> {
    const item = await this.transition(tenant, id, "rendering", at, "SET #attempts = #attempts + :one", {
      names: { "#attempts": "attempts" },
      values: { ":one": 1 },
    });
    return item ? fromItem(item) : undefined;
  }

  async markSucceeded(tenant: string, id: string, output: JobOutput, at: Date): Promise<boolean> {
    const item = await this.transition(tenant, id, "succeeded", at, "SET #output = :output", {
      names: { "#output": "output" },
      values: { ":output": output },
    });
    return item !== undefined;
  }

  async markFailed(tenant: string, id: string, failure: JobFailure, at: Date): Promise<boolean> {
    const item = await this.transition(tenant, id, "failed", at, "SET #error = :error", {
      names: { "#error": "error" },
      values: { ":error": failure },
    });
    return item !== undefined;
  }

  /** One conditional UpdateItem: legal only from the states the job state machine allows. */
  private async transition(
    tenant: string,
    id: string,
    to: JobStatus,
    at: Date,
    set: string,
    extra: { names: Record<string, string>; values: Record<string, unknown> },
  ): Promise<JobItem | undefined> {
    const from = statusesAllowedBefore(to);
    const fromValues = Object.fromEntries(from.map((s, i) => [`:from${i}`, s]));
    try {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(tenant, id),
          UpdateExpression: `${set}, #status = :to, #updatedAt = :at`,
          ConditionExpression: `attribute_exists(#pk) AND #status IN (${Object.keys(fromValues).join(", ")})`,
          ExpressionAttributeNames: {
            "#pk": PK,
            "#status": "status",
            "#updatedAt": "updatedAt",
            ...extra.names,
          },
          ExpressionAttributeValues: { ":to": to, ":at": at.toISOString(), ...fromValues, ...extra.values },
          ReturnValues: "ALL_NEW",
        }),
      );
      return Attributes as JobItem;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }
}

function fromItem(item: JobItem): Job {
  return {
    tenant: item.tenant,
    id: item.id,
    status: item.status,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    attempts: item.attempts,
    request: JSON.parse(item.requestJson) as RenderRequest,
    ...(item.output ? { output: item.output } : {}),
    ...(item.error ? { error: item.error } : {}),
  };
}
