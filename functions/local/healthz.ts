import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { BrowserPool } from "../adapters/chromium/browser-pool.js";
import type { LocalRoute } from "./api-gateway-server.js";

/** Resolves (optionally with a short note) when the part answers; throws when it does not. */
export type HealthCheck = () => Promise<string | undefined>;

export interface CheckResult {
  readonly status: "ok" | "failing";
  readonly ms: number;
  readonly detail?: string;
}

export interface HealthReport {
  readonly status: "ok" | "failing";
  /** Names of the failing checks, when any fail. */
  readonly failing?: readonly string[];
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** Long enough for a busy stand-in on two shared cores, short enough for a probe. */
const DEFAULT_TIMEOUT_MS = 2_000;

/**
 * Runs every check at once, each bounded by `timeoutMs`; the report fails when any check fails and
 * names those checks. A failure is described by its error code or name only: a probe never echoes
 * internals.
 */
export async function runHealthChecks(
  checks: Readonly<Record<string, HealthCheck>>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CheckTimeout(timeoutMs)), timeoutMs);
      });
      try {
        const detail = await Promise.race([check(), timeout]);
        return [name, { status: "ok", ms: elapsed(), ...(detail ? { detail } : {}) }];
      } catch (err) {
        return [name, { status: "failing", ms: elapsed(), detail: describeFailure(err) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failing = entries.filter(([, r]) => r.status === "failing").map(([name]) => name);
  return {
    status: failing.length === 0 ? "ok" : "failing",
    ...(failing.length > 0 ? { failing } : {}),
    checks: Object.fromEntries(entries),
  };
}

class CheckTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

function describeFailure(err: unknown): string {
  if (err instanceof CheckTimeout) return err.message;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code) return code;
  const name = (err as { name?: unknown })?.name;
  return typeof name === "string" && name && name !== "Error" ? name : "unreachable";
}

/** What the local stack's health is made of: the stand-ins it cannot work without, and Chromium. */
export function localHealthChecks(parts: {
  sqs: SQSClient;
  queueUrl: string;
  s3: S3Client;
  bucket: string;
  dynamodb: DynamoDBClient;
  table: string;
  browsers: Pick<BrowserPool, "browserProcessId">;
}): Record<string, HealthCheck> {
  return {
    sqs: async () => {
      await parts.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: parts.queueUrl, AttributeNames: ["QueueArn"] }),
      );
      return undefined;
    },
    s3: async () => {
      await parts.s3.send(new HeadBucketCommand({ Bucket: parts.bucket }));
      return undefined;
    },
    dynamodb: async () => {
      const { Table } = await parts.dynamodb.send(new DescribeTableCommand({ TableName: parts.table }));
      if (Table?.TableStatus !== "ACTIVE") throw Object.assign(new Error(), { code: "TableNotActive" });
      return undefined;
    },
    chromium: async () => {
      const pid = parts.browsers.browserProcessId();
      // The pool launches Chromium on the first render; a probe must not launch it.
      if (pid === undefined) return "not started yet: launches on the first render";
      process.kill(pid, 0);
      return `running (pid ${pid})`;
    },
  };
}

/** `GET /healthz`: 200 when every check passes, 503 naming the failing ones. */
export function healthzRoute(checks: Readonly<Record<string, HealthCheck>>): LocalRoute {
  return async (req, res) => {
    req.resume();
    const report = await runHealthChecks(checks);
    const body = JSON.stringify(report);
    res.writeHead(report.status === "ok" ? 200 : 503, {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "content-length": Buffer.byteLength(body),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}
