import { mkdirSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import dynalite from "dynalite";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import type { MessageVisibility } from "../core/ports.js";
import { listenOnLoopback } from "./loopback.js";

export interface StandIn {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export interface SqsS3StandIn extends StandIn {
  readonly fauxqs: FauxqsServer;
}

/**
 * fauxqs (SQS + S3). It always listens on 0.0.0.0, so for the duration of its start-up the listen
 * call is narrowed to loopback: nothing local may be reachable from the network.
 * With `dataDir`, queues, messages and objects persist across restarts (SQLite + plain files).
 */
export async function startSqsS3StandIn(options: {
  port: number;
  dataDir?: string;
  /**
   * The host queue URLs name: `http://sqs.<region>.<host>:<port>/…`. The default gives a host Node's URL
   * parser rejects (clients need an explicit endpoint); `localhost` gives one a client can use as its
   * endpoint where `sqs.<region>.localhost` resolves to loopback (the artifacts sandbox's /etc/hosts).
   * @default "127.0.0.1"
   */
  queueUrlHost?: string;
}): Promise<SqsS3StandIn> {
  const dirs = options.dataDir
    ? { dataDir: join(options.dataDir, "sqs"), s3StorageDir: join(options.dataDir, "s3") }
    : {};
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const fauxqs = await withListenOnLoopback(() =>
    startFauxqs({ port: options.port, logger: false, host: options.queueUrlHost ?? "127.0.0.1", ...dirs }),
  );
  return {
    endpoint: `http://127.0.0.1:${fauxqs.port}`,
    fauxqs,
    stop: () => fauxqs.stop(),
  };
}

/** dynalite (DynamoDB), persisted in LevelDB under `dataDir` when given. */
export async function startDynamoDbStandIn(options: { port: number; dataDir?: string }): Promise<StandIn> {
  const path = options.dataDir ? join(options.dataDir, "dynamodb") : undefined;
  if (path) mkdirSync(path, { recursive: true });
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(path ? { path } : {}),
  });
  const { url, stop } = await listenOnLoopback(server, options.port);
  return { endpoint: url, stop };
}

async function withListenOnLoopback<T>(start: () => Promise<T>): Promise<T> {
  const original = net.Server.prototype.listen;
  // biome-ignore lint/suspicious/noExplicitAny: listen has many overloads; only the options form is rewritten.
  net.Server.prototype.listen = function (this: net.Server, ...args: any[]) {
    const [first] = args;
    if (first && typeof first === "object" && (first.host === "0.0.0.0" || first.host === "::")) {
      args[0] = { ...first, host: "127.0.0.1" };
    }
    return original.apply(this, args as Parameters<typeof original>);
  } as typeof original;
  try {
    return await start();
  } finally {
    net.Server.prototype.listen = original;
  }
}

/**
 * fauxqs with persistence loses a message whose visibility is set to 0: it drops the message from
 * its in-flight set, then fails to persist the change (a NOT NULL column) before making it visible
 * again. One second instead of zero behaves the same for Kiln and keeps the message.
 */
export function withoutZeroVisibility(visibility: MessageVisibility): MessageVisibility {
  return {
    change: (queueArn, receiptHandles, seconds) =>
      visibility.change(queueArn, receiptHandles, Math.max(1, seconds)),
  };
}

/** The adapter a function is wired with, as the stand-ins need it: by name, see `withoutZeroVisibility`. */
export function forStandIns<T extends object>(adapter: T, name: string): T {
  if (name !== "sqs.visibility") return adapter;
  return withoutZeroVisibility(adapter as unknown as MessageVisibility) as unknown as T;
}
