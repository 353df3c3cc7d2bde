/**
 * Records each AWS SDK command a function's client sends (an SDK middleware): the function, service,
 * command, the table / bucket / queue / function / secret it addressed, and the DynamoDB partition keys
 * or S3 object key. Tests check the calls against the function's declared permissions.
 */
import { JOBS_TABLE } from "../core/constants.js";
import type { AwsCall } from "../handlers/permissions.js";

type Input = Record<string, unknown>;

interface RecordableClient {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: Input }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: Input }) => Promise<unknown>,
      options: { step: "initialize"; name: string; priority: "low" },
    ): void;
  };
}

/** Adds the recorder to `client` (all its commands, the document client's included) and returns it. */
export function recordAwsCalls<C extends object>(
  client: C,
  calls: { readonly function: string; readonly service: string; readonly onCall: (call: AwsCall) => void },
): C {
  (client as unknown as RecordableClient).middlewareStack.add(
    (next, context) => async (args) => {
      calls.onCall({
        function: calls.function,
        service: calls.service,
        command: context.commandName ?? "unknown",
        ...addressed(calls.service, args.input),
      });
      return next(args);
    },
    // Low priority: after the document client has marshalled its input, so keys are in one form.
    { step: "initialize", name: "kilnRecordAwsCalls", priority: "low" },
  );
  return client;
}

/** Queues are named by their last path segment, whether a call gives a URL or a name. */
export function queueName(urlOrName: string): string {
  return urlOrName.split("/").at(-1) ?? urlOrName;
}

function addressed(service: string, input: Input): Omit<AwsCall, "function" | "service" | "command"> {
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  switch (service) {
    case "dynamodb":
      return dynamoDbAddress(input);
    case "s3":
      return { resource: text(input.Bucket), objectKey: text(input.Key) };
    case "sqs":
      return { resource: queueName(text(input.QueueUrl) || text(input.QueueName)) };
    case "lambda":
      return { resource: text(input.FunctionName) };
    case "secretsmanager":
      return { resource: text(input.SecretId) };
    case "kms":
      return {
        resource: text(input.KeyId),
        encryptionContextKeys: Object.keys((input.EncryptionContext ?? {}) as Input),
      };
    default:
      return { resource: "" };
  }
}

/** A string attribute, marshalled (`{ S: "…" }`) or not. */
function stringOf(value: unknown): string {
  if (typeof value === "string") return value;
  const s = (value as { S?: unknown } | undefined)?.S;
  return typeof s === "string" ? s : "";
}

function dynamoDbAddress(input: Input): Omit<AwsCall, "function" | "service" | "command"> {
  const keyOf = (item: unknown) => stringOf((item as Input | undefined)?.[JOBS_TABLE.partitionKey.name]);
  const requests = input.RequestItems as Record<string, { Keys?: unknown[] }> | undefined;
  if (requests) {
    const [table, request] = Object.entries(requests)[0] ?? ["", {}];
    return { resource: table, partitionKeys: (request.Keys ?? []).map(keyOf) };
  }
  const resource = typeof input.TableName === "string" ? input.TableName : "";
  const index = typeof input.IndexName === "string" ? { index: input.IndexName } : {};
  if (input.Key) return { resource, partitionKeys: [keyOf(input.Key)] };
  if (input.Item) return { resource, partitionKeys: [keyOf(input.Item)] };
  if (typeof input.KeyConditionExpression === "string") {
    // The partition's equality is the condition's first clause: `#pk = :pk AND …`.
    const placeholder = /^\s*\S+\s*=\s*(:\w+)/.exec(input.KeyConditionExpression)?.[1] ?? "";
    const values = (input.ExpressionAttributeValues ?? {}) as Input;
    return { resource, ...index, partitionKeys: [stringOf(values[placeholder])] };
  }
  return { resource, ...index };
}
