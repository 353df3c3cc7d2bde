import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { type Command, EXIT, UsageError } from "./cli-support.js";
import { localStandIns } from "./local-stand-ins.js";

const LOCAL_QUEUES = ["render", "webhooks", "batches"] as const;
const isLocalQueue = (name: string): name is (typeof LOCAL_QUEUES)[number] =>
  (LOCAL_QUEUES as readonly string[]).includes(name);

export const redrive: Command = {
  summary: "move dead-lettered messages back to their queue (local stack or a deployed queue)",
  usage: `kiln redrive [--queue render|webhooks|batches] [--dlq URL [--to URL]] [--max N] [--data-dir DIR]

Moves the messages of a dead-letter queue back to the queue they came from, so the workers take
them again. A job that is already terminal is skipped by the worker; any other job resumes.

Deployed: --dlq is the dead-letter queue URL (stack output DeadLetterQueueUrl); credentials come
from the usual AWS environment, the region from the queue URL (or --region, or the environment when
the URL names none). Kiln starts an SQS message move task, which moves the
messages to their source queue (or to --to). Where SQS has no move tasks, it receives, re-sends
and deletes the messages itself (then --to names the destination if the source cannot be found).

Local (no --dlq): the local stack of --data-dir (default $KILN_DATA_DIR or .kiln), whether it is
running or not. --queue picks the render queue (default), the webhook queue or the batch
fan-out queue.`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        queue: { type: "string", default: "render" },
        dlq: { type: "string" },
        to: { type: "string" },
        max: { type: "string" },
        region: { type: "string" },
        "data-dir": { type: "string" },
      },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const which = values.queue;
    if (!isLocalQueue(which)) {
      throw new UsageError(`--queue must be render, webhooks or batches, not "${which}"`);
    }
    const max = values.max === undefined ? Number.POSITIVE_INFINITY : Number(values.max);
    if (!(max > 0)) throw new UsageError("--max must be a positive number of messages");

    if (values.dlq) {
      const sqs = deployedSqsClient(values.dlq, values.region);
      try {
        return await redriveQueue(sqs, values.dlq, values.to, max);
      } finally {
        sqs.destroy();
      }
    }
    if (values.to) throw new UsageError("--to goes with --dlq; the local stack knows its own queues");

    const dataDir = resolve(values["data-dir"] ?? process.env.KILN_DATA_DIR ?? ".kiln");
    const { LOCAL_NAMES } = await import("../../functions/local/resources.js");
    const names = {
      render: { queue: LOCAL_NAMES.renderQueue, deadLetterQueue: LOCAL_NAMES.deadLetterQueue },
      webhooks: { queue: LOCAL_NAMES.webhookQueue, deadLetterQueue: LOCAL_NAMES.webhookDeadLetterQueue },
      batches: { queue: LOCAL_NAMES.batchQueue, deadLetterQueue: LOCAL_NAMES.batchDeadLetterQueue },
    }[which];
    const local = await localSqs(dataDir);
    try {
      const dlqUrl = await queueUrl(local.sqs, names.deadLetterQueue);
      const destination = await queueUrl(local.sqs, names.queue);
      if (!dlqUrl || !destination) {
        process.stdout.write(`No ${which} queues in ${dataDir}: nothing to redrive.\n`);
        return EXIT.ok;
      }
      return await redriveQueue(local.sqs, dlqUrl, destination, max);
    } finally {
      await local.stop();
    }
  },
};

/**
 * The region an SQS queue URL names: `sqs.<region>.amazonaws.com[.cn]`, a VPC endpoint's
 * `….sqs.<region>.vpce.amazonaws.com` or the legacy `<region>.queue.amazonaws.com`. Undefined for any
 * other host (a custom endpoint), where the SDK's own region settings apply.
 */
export function regionOfQueueUrl(queueUrl: string): string | undefined {
  // Not new URL(): some stand-ins answer with hosts Node's URL parser refuses.
  const host = /^[a-z]+:\/\/([^/:?#]+)/i.exec(queueUrl.trim())?.[1]?.toLowerCase();
  if (!host) return undefined;
  const region = "([a-z]{2}(?:-[a-z]+)+-\\d+)";
  const match =
    new RegExp(`(?:^|\\.)sqs\\.${region}\\.(?:vpce\\.)?amazonaws\\.com(?:\\.cn)?$`).exec(host) ??
    new RegExp(`^${region}\\.queue\\.amazonaws\\.com(?:\\.cn)?$`).exec(host);
  return match?.[1];
}

/** The client for a deployed dead-letter queue: the region of --region, else the URL's, else the environment's. */
export function deployedSqsClient(dlqUrl: string, region: string | undefined): SQSClient {
  const chosen = region ?? regionOfQueueUrl(dlqUrl);
  return new SQSClient(chosen ? { region: chosen } : {});
}

async function redriveQueue(sqs: SQSClient, dlqUrl: string, to: string | undefined, max: number) {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
  );
  const sourceArn = Attributes?.QueueArn;
  if (!sourceArn) throw new Error(`${dlqUrl} has no ARN: is it an SQS queue URL?`);

  if (max === Number.POSITIVE_INFINITY) {
    try {
      const destinationArn = to ? await arnOf(sqs, to) : undefined;
      const { TaskHandle } = await sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: sourceArn,
          ...(destinationArn ? { DestinationArn: destinationArn } : {}),
        }),
      );
      process.stdout.write(
        `Started a message move task from ${sourceArn} to ${destinationArn ?? "the source queue"}.\n` +
          `  task: ${TaskHandle}\n` +
          `  progress: aws sqs list-message-move-tasks --source-arn ${sourceArn}\n`,
      );
      return EXIT.ok;
    } catch (err) {
      if (!unsupported(err)) throw err;
      // The endpoint has no move tasks (the local stand-in): move the messages ourselves.
    }
  }

  const destination = to ?? (await sourceQueueOf(sqs, dlqUrl));
  const moved = await moveMessages(sqs, dlqUrl, destination, max);
  process.stdout.write(`Moved ${moved} message${moved === 1 ? "" : "s"} from ${dlqUrl} to ${destination}.\n`);
  return EXIT.ok;
}

/**
 * Receive, re-send, delete — ten at a time, deleting only what was sent. A crash in between leaves a
 * message in both queues; the worker renders a job at most once, so that duplicate is harmless.
 */
async function moveMessages(sqs: SQSClient, from: string, to: string, max: number): Promise<number> {
  let moved = 0;
  while (moved < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: from,
        MaxNumberOfMessages: Math.min(10, max - moved),
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: to,
        Entries: Messages.map((m, i) => ({
          Id: String(i),
          MessageBody: m.Body ?? "",
          ...(m.MessageAttributes ? { MessageAttributes: m.MessageAttributes } : {}),
        })),
      }),
    );
    const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
    const toDelete = Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })).filter((e) =>
      ok.has(e.Id),
    );
    if (toDelete.length > 0) {
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: from, Entries: toDelete }));
    }
    moved += toDelete.length;
    if (sent.Failed?.length) {
      throw new Error(
        `${sent.Failed.length} messages could not be sent to ${to}: ${sent.Failed[0]?.Message}`,
      );
    }
  }
  return moved;
}

async function sourceQueueOf(sqs: SQSClient, dlqUrl: string): Promise<string> {
  try {
    const { queueUrls } = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl }));
    if (queueUrls?.length === 1 && queueUrls[0]) return queueUrls[0];
  } catch (err) {
    if (!unsupported(err)) throw err;
  }
  throw new UsageError(`cannot tell which queue ${dlqUrl} belongs to: pass --to with its URL`);
}

async function arnOf(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  if (!Attributes?.QueueArn) throw new Error(`${url} has no ARN: is it an SQS queue URL?`);
  return Attributes.QueueArn;
}

function unsupported(err: unknown): boolean {
  const name = (err as { name?: string }).name ?? "";
  return ["InvalidAction", "UnsupportedOperation", "UnknownOperationException", "NotImplemented"].includes(
    name,
  );
}

async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    if ((err as { name?: string }).name === "QueueDoesNotExist") return undefined;
    throw err;
  }
}

/** The SQS of the local stack on `dataDir`, running or not (local-stand-ins.ts). */
async function localSqs(dataDir: string): Promise<{ sqs: SQSClient; stop: () => Promise<void> }> {
  const { localClientConfig } = await import("../../functions/local/aws-clients.js");
  const standIns = await localStandIns(dataDir, { dynamodb: false });
  const sqs = new SQSClient(localClientConfig(standIns.sqsS3));
  return {
    sqs,
    stop: async () => {
      sqs.destroy();
      await standIns.stop();
    },
  };
}
