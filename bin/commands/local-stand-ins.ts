import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";

export interface LocalStandIns {
  readonly sqsS3: string;
  /** Present when asked for. */
  readonly dynamodb?: string;
  stop(): Promise<void>;
}

/**
 * The stand-ins of the local stack on `dataDir`: the running stack's (it leaves its endpoints in the
 * data dir), or, when none answers, stand-ins started here on the same data for the time of a command.
 * Loaded by commands only when they act locally, so that acting on AWS does not pull in the stand-ins.
 */
export async function localStandIns(dataDir: string, options: { dynamodb: boolean }): Promise<LocalStandIns> {
  const { LOCAL_ENDPOINTS_FILE } = await import("../../functions/local/resources.js");
  const { localClientConfig } = await import("../../functions/local/aws-clients.js");
  const running = await readFile(join(dataDir, LOCAL_ENDPOINTS_FILE), "utf8")
    .then((text) => JSON.parse(text) as { sqsS3?: string; dynamodb?: string })
    .catch(() => undefined);
  const answers = async (probe: () => Promise<unknown>) =>
    probe().then(
      () => true,
      () => false,
    );
  if (running?.sqsS3 && (!options.dynamodb || running.dynamodb)) {
    const sqs = new SQSClient({ ...localClientConfig(running.sqsS3), maxAttempts: 1 });
    const dynamodb =
      options.dynamodb && running.dynamodb
        ? new DynamoDBClient({ ...localClientConfig(running.dynamodb), maxAttempts: 1 })
        : undefined;
    const signal = () => ({ abortSignal: AbortSignal.timeout(2000) });
    const alive =
      (await answers(() => sqs.send(new ListQueuesCommand({}), signal()))) &&
      (!dynamodb || (await answers(() => dynamodb.send(new ListTablesCommand({}), signal()))));
    sqs.destroy();
    dynamodb?.destroy();
    if (alive) {
      return {
        sqsS3: running.sqsS3,
        ...(dynamodb ? { dynamodb: running.dynamodb } : {}),
        stop: async () => {},
      };
    }
  }
  const { startSqsS3StandIn, startDynamoDbStandIn } = await import("../../functions/local/stand-ins.js");
  const sqsS3 = await startSqsS3StandIn({ port: 0, dataDir });
  const dynamo = options.dynamodb
    ? await startDynamoDbStandIn({ port: 0, dataDir }).catch(async (err) => {
        await sqsS3.stop();
        throw err;
      })
    : undefined;
  return {
    sqsS3: sqsS3.endpoint,
    ...(dynamo ? { dynamodb: dynamo.endpoint } : {}),
    stop: async () => {
      await dynamo?.stop();
      await sqsS3.stop();
    },
  };
}
