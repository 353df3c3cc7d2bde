/**
 * A local stack in its own process for `kiln bench`, so that the worker's memory (this process and
 * its Chromium) is measured apart from the load generator. Started with an IPC channel by
 * `startBenchStack`; answers `stats` and `stop` messages.
 */
import type { Logger } from "../../functions/core/ports.js";
import { startLocalStack } from "../../functions/local/stack.js";

export interface BenchStackOptions {
  readonly dataDir: string;
  readonly apiKey: string;
  readonly renderConcurrency?: number;
}

export type BenchStackMessage =
  | { readonly type: "ready"; readonly apiUrl: string }
  | {
      readonly type: "stats";
      readonly pool: ReturnType<StackStats["stats"]>;
      readonly browserPid: number | undefined;
      readonly heapUsedMb: number;
      /** The worker's own time per succeeded record (start of the attempt → job written succeeded), since the last reset. */
      readonly workerMs: number[];
    }
  | { readonly type: "stopped" }
  | { readonly type: "failed"; readonly message: string };

type StackStats = Awaited<ReturnType<typeof startLocalStack>>["browsers"];

const send = (message: BenchStackMessage) => process.send?.(message);

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

const options = JSON.parse(process.argv[2] ?? "{}") as BenchStackOptions;
try {
  const stack = await startLocalStack({
    dataDir: options.dataDir,
    apiPort: 0,
    apiKeys: `bench=${options.apiKey}`,
    logger,
    ...(options.renderConcurrency ? { renderConcurrency: options.renderConcurrency } : {}),
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stack.stop();
    return stopping;
  };
  process.on("message", async (message: { type: string; reset?: boolean }) => {
    if (message.type === "stats") {
      send({
        type: "stats",
        pool: stack.browsers.stats(),
        browserPid: stack.browsers.browserProcessId(),
        heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1024 / 1024),
        workerMs,
      });
      if (message.reset) workerMs = [];
    } else if (message.type === "stop") {
      await stop();
      send({ type: "stopped" });
      process.disconnect();
    }
  });
  // The parent went away without asking: stop cleanly so Chromium goes with us.
  process.on("disconnect", () => void stop().finally(() => process.exit(0)));
  send({ type: "ready", apiUrl: stack.apiUrl });
} catch (err) {
  send({ type: "failed", message: (err as Error).message });
  process.exitCode = 1;
  process.disconnect();
}
