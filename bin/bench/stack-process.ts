/**
 * A local stack in its own process for `kiln bench`, so that the worker's memory (this process and
 * its Chromium) is measured apart from the load generator. Started with an IPC channel by
 * `startBenchStack`; answers `stats` and `stop` messages.
 *
 * With `role: "stand-ins"` the process runs only the AWS stand-ins (DynamoDB, SQS, S3) and a stack
 * process started with their endpoints holds the functions: the stand-ins' data (every job's items,
 * queue state, outputs) then sits in a process of its own, as it does in AWS.
 */

import type { Logger } from "../../functions/core/ports.js";
import type { LocalEndpoints } from "../../functions/local/aws-clients.js";
import { startLocalStack, startStandIns } from "../../functions/local/stack.js";

export interface BenchStackOptions {
  readonly dataDir: string;
  readonly apiKey: string;
  readonly renderConcurrency?: number;
  readonly standIns?: Pick<LocalEndpoints, "sqsS3" | "dynamodb">;
}

export interface BenchStandInsOptions {
  readonly role: "stand-ins";
  readonly dataDir: string;
}

/** process.memoryUsage() in MB: what of the RSS is JS heap, and what V8 knows of outside it. */
export interface MemoryBreakdown {
  readonly rssMb: number;
  readonly heapTotalMb: number;
  readonly heapUsedMb: number;
  /** Memory of C++ objects bound to JS objects (Buffers included). */
  readonly externalMb: number;
  readonly arrayBuffersMb: number;
}

export type BenchStackMessage =
  | { readonly type: "ready"; readonly apiUrl: string }
  | ({ readonly type: "stand-ins ready" } & Pick<LocalEndpoints, "sqsS3" | "dynamodb">)
  | {
      readonly type: "stats";
      readonly pool: ReturnType<StackStats["stats"]>;
      readonly browserPid: number | undefined;
      readonly memory: MemoryBreakdown;
      /** The worker's own time per succeeded record (start of the attempt → job written succeeded), since the last reset. */
      readonly workerMs: number[];
    }
  | { readonly type: "stand-ins stats"; readonly memory: MemoryBreakdown }
  | { readonly type: "stopped" }
  | { readonly type: "failed"; readonly message: string };

type StackStats = Awaited<ReturnType<typeof startLocalStack>>["browsers"];

const send = (message: BenchStackMessage) => process.send?.(message);
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

function memoryBreakdown(): MemoryBreakdown {
  const m = process.memoryUsage();
  return {
    rssMb: mb(m.rss),
    heapTotalMb: mb(m.heapTotal),
    heapUsedMb: mb(m.heapUsed),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
  };
}

/** Keeps only what the bench reports: how long the worker took per record. */
let workerMs: number[] = [];
const logger: Logger = {
  debug: () => {},
  child: () => logger,
  info: (message, fields) => {
    if (message === "render succeeded" && typeof fields?.durationMs === "number")
      workerMs.push(fields.durationMs);
  },
  warn: () => {},
  error: (message, fields) => process.stderr.write(`${JSON.stringify({ message, ...fields })}\n`),
};

/** Answers `stats` with `stats()` and `stop` once `stop()` is done; also stops if the parent goes away. */
function serve(stats: (reset: boolean) => BenchStackMessage, stop: () => Promise<void>) {
  let stopping: Promise<void> | undefined;
  const stopOnce = () => {
    stopping ??= stop();
    return stopping;
  };
  process.on("message", async (message: { type: string; reset?: boolean }) => {
    if (message.type === "stats") {
      send(stats(message.reset === true));
    } else if (message.type === "stop") {
      await stopOnce();
      send({ type: "stopped" });
      process.disconnect();
    }
  });
  // The parent went away without asking: stop cleanly so Chromium goes with us.
  process.on("disconnect", () => void stopOnce().finally(() => process.exit(0)));
}

const options = JSON.parse(process.argv[2] ?? "{}") as BenchStackOptions | BenchStandInsOptions;
try {
  if ("role" in options) {
    const stops: Array<() => Promise<void>> = [];
    const { sqsS3, dynamo } = await startStandIns(options.dataDir, stops);
    serve(
      () => ({ type: "stand-ins stats", memory: memoryBreakdown() }),
      async () => {
        for (const stop of stops.reverse()) await stop().catch(() => {});
      },
    );
    send({ type: "stand-ins ready", sqsS3: sqsS3.endpoint, dynamodb: dynamo.endpoint });
  } else {
    const stack = await startLocalStack({
      dataDir: options.dataDir,
      apiPort: 0,
      apiKeys: `bench=${options.apiKey}`,
      logger,
      ...(options.renderConcurrency ? { renderConcurrency: options.renderConcurrency } : {}),
      ...(options.standIns ? { standIns: options.standIns } : {}),
    });
    serve((reset) => {
      const message: BenchStackMessage = {
        type: "stats",
        pool: stack.browsers.stats(),
        browserPid: stack.browsers.browserProcessId(),
        memory: memoryBreakdown(),
        workerMs,
      };
      if (reset) workerMs = [];
      return message;
    }, stack.stop);
    send({ type: "ready", apiUrl: stack.apiUrl });
  }
} catch (err) {
  send({ type: "failed", message: (err as Error).message });
  process.exitCode = 1;
  process.disconnect();
}
