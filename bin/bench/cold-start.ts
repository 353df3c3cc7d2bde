/**
 * Cold start of the render worker as Lambda runs it: the entry bundled the way the CDK bundles it,
 * started in a fresh node process whose TMPDIR is empty (so Chromium must be extracted from the same
 * Chromium pack the layer ships, layers/chromium/chromium-pack.ts), handed one
 * SQS record, timed to the end of its first render. Phases come from the performance marks the
 * Chromium adapter leaves (see functions/adapters/chromium/startup-marks.ts).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { build } from "esbuild";
import { DynamoDbJobStore } from "../../functions/adapters/aws/dynamodb-job-store.js";
import { CHROMIUM_PACK_OVERRIDE_ENV } from "../../functions/adapters/chromium/executable.js";
import { FONT_CONFIG_OVERRIDE_ENV } from "../../functions/adapters/chromium/fonts.js";
import { STARTUP_MARKS } from "../../functions/adapters/chromium/startup-marks.js";
import { ENV } from "../../functions/core/constants.js";
import { LOCAL_REGION, localClientConfig } from "../../functions/local/aws-clients.js";
import {
  ensureBucket,
  ensureJobsTable,
  ensureRenderQueues,
  ensureWebhookQueues,
  LOCAL_NAMES,
} from "../../functions/local/resources.js";
import { startDynamoDbStandIn, startSqsS3StandIn } from "../../functions/local/stand-ins.js";
import { ensureChromiumPack } from "../../layers/chromium/chromium-pack-build.js";
import { ensureLocalFontPack, fontConfigXml } from "../../layers/chromium/font-pack.js";
import { RENDER_WORKER_ALIASES } from "../../lib/constructs/worker-shims/aliases.js";
import type { BenchJob } from "./fixtures.js";
import { round } from "./proc.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** Inside node_modules so the bundle's one external import (@sparticuz/chromium) resolves as on Lambda. */
const BUNDLE_DIR = join(REPO, "node_modules/.cache/kiln-bench");

export interface ColdStartRun {
  /** Process spawn → the handler returned, as the parent saw it. */
  readonly wallMs: number;
  /** Milliseconds since the child process started (its performance.timeOrigin). */
  readonly marks: Record<string, number>;
  readonly phases: Record<string, number>;
  readonly succeeded: boolean;
}

export interface ColdStartResult {
  readonly bundleBytes: number;
  readonly runs: ColdStartRun[];
  readonly median: Record<string, number>;
  /** One more start on a TMPDIR that already holds the extracted Chromium: the floor without extraction. */
  readonly extractedTmp?: { readonly total: number; readonly phases: Record<string, number> };
}

/** Runs in the child: imports the bundle, invokes it once, prints the marks as one JSON line. */
const DRIVER = `const marks = { "driver:start": performance.now() };
const event = JSON.parse(process.env.KILN_BENCH_EVENT);
const { handler } = await import("./render-worker.mjs");
marks["module:loaded"] = performance.now();
const response = await handler(event);
marks["handler:returned"] = performance.now();
const cpu = process.cpuUsage();
for (const m of performance.getEntriesByType("mark")) marks[m.name] ??= m.startTime;
process.stdout.write(JSON.stringify({ marks, cpu, response }) + "\\n");
process.exit(0);
`;

export async function measureColdStart(options: {
  job: BenchJob;
  runs: number;
  workDir: string;
  log: (line: string) => void;
}): Promise<ColdStartResult> {
  const bundleBytes = await bundleWorker();
  const dataDir = join(options.workDir, "cold-stand-ins");
  await mkdir(dataDir, { recursive: true });
  const sqsS3 = await startSqsS3StandIn({ port: 0, dataDir });
  const dynamo = await startDynamoDbStandIn({ port: 0, dataDir });
  try {
    const dynamodb = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    const s3 = new S3Client(localClientConfig(sqsS3.endpoint));
    const sqs = new SQSClient(localClientConfig(sqsS3.endpoint));
    await ensureJobsTable(dynamodb, LOCAL_NAMES.jobsTable);
    await ensureBucket(s3, LOCAL_NAMES.outputsBucket);
    await ensureBucket(s3, LOCAL_NAMES.payloadsBucket);
    await ensureBucket(s3, LOCAL_NAMES.templatesBucket);
    await ensureBucket(s3, LOCAL_NAMES.assetsBucket);
    // The font pack as the layer ships it: built once, outside the empty TMPDIR, read-only from there.
    const pack = ensureLocalFontPack({ baseDir: join(options.workDir, "layer") });
    // The layer's chromium/ (→ /opt/chromium): built once per package version, like at synth.
    const chromiumPack = ensureChromiumPack();
    const queues = await ensureRenderQueues(sqs, { visibilityTimeoutSeconds: 60 });
    const webhookQueues = await ensureWebhookQueues(sqs, { visibilityTimeoutSeconds: 60 });
    const jobs = new DynamoDbJobStore(dynamodb, LOCAL_NAMES.jobsTable);

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      // No NODE_OPTIONS: the CDK ships the worker's source map but does not set --enable-source-maps,
      // and neither does the worker's construct (lib/constructs/service-function.ts).
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: "kiln-local",
      AWS_SECRET_ACCESS_KEY: "kiln-local",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: sqsS3.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsS3.endpoint,
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
      [ENV.jobsTable]: LOCAL_NAMES.jobsTable,
      [ENV.outputsBucket]: LOCAL_NAMES.outputsBucket,
      [ENV.payloadsBucket]: LOCAL_NAMES.payloadsBucket,
      // The stand-in names queues under a host the worker's URL check rejects; the path is what counts.
      [ENV.webhookQueueUrl]: webhookQueues.queueUrl.replace(/^https?:\/\/[^/]+/, sqsS3.endpoint),
      [ENV.templatesBucket]: LOCAL_NAMES.templatesBucket,
      [ENV.assetsBucket]: LOCAL_NAMES.assetsBucket,
      // The invoice uses no assets, so the signer is never called; a closed port makes sure of it.
      [ENV.signerFunctionName]: LOCAL_NAMES.signerFunction,
      AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:9",
      // Likewise no asset is fetched from the CDN; the worker only needs to know its origin.
      [ENV.cdnBaseUrl]: "http://127.0.0.1:9",
    };

    const startOnce = async (tmp: string): Promise<ColdStartRun> => {
      const id = crypto.randomUUID();
      const now = new Date().toISOString();
      await jobs.create({
        tenant: "bench",
        id,
        status: "queued",
        createdAt: now,
        updatedAt: now,
        attempts: 0,
        request: options.job.request,
      });
      // A real message, so the worker's visibility heartbeat and the delete work as they would.
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.queueUrl,
          MessageBody: JSON.stringify({ tenant: "bench", jobId: id }),
        }),
      );
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queues.queueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ["All"],
        }),
      );
      const [message] = Messages;
      if (!message) throw new Error("the cold-start job's message did not arrive");
      const event = sqsEvent(queues.queueArn, message);
      // As on Lambda: the layer's fonts plus the package's Open Sans from the Chromium pack, and
      // fontconfig's cache in TMPDIR, so every cold start scans the fonts afresh.
      const fontConfig = join(options.workDir, `fonts-${basename(tmp)}.conf`);
      await writeFile(
        fontConfig,
        fontConfigXml({
          fontDirs: [pack.dir, join(chromiumPack, "fonts")],
          cacheDir: join(tmp, "kiln-fonts-cache"),
        }),
      );
      const run = await runChild({
        ...env,
        TMPDIR: tmp,
        [FONT_CONFIG_OVERRIDE_ENV]: fontConfig,
        [CHROMIUM_PACK_OVERRIDE_ENV]: chromiumPack,
        KILN_BENCH_EVENT: JSON.stringify(event),
      });
      if (run.succeeded) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
      return run;
    };

    const runs: ColdStartRun[] = [];
    let lastTmp: string | undefined;
    for (let i = 0; i < options.runs; i++) {
      const tmp = await mkdtemp(join(options.workDir, "cold-tmp-"));
      if (lastTmp) await rm(lastTmp, { recursive: true, force: true });
      lastTmp = tmp;
      const run = await startOnce(tmp);
      options.log(
        `  run ${i + 1}: ${run.phases.total} ms to the first render${run.succeeded ? "" : " (FAILED)"}`,
      );
      runs.push(run);
    }
    const warm = lastTmp ? await startOnce(lastTmp) : undefined;
    return {
      bundleBytes,
      runs,
      median: medianPhases(runs),
      ...(warm ? { extractedTmp: { total: warm.phases.total ?? Number.NaN, phases: warm.phases } } : {}),
    };
  } finally {
    await dynamo.stop();
    await sqsS3.stop();
  }
}

/** Bundles the worker entry as the CDK does (ESM, minified, @sparticuz/chromium external, its aliases). */
async function bundleWorker(): Promise<number> {
  await mkdir(BUNDLE_DIR, { recursive: true });
  const outfile = join(BUNDLE_DIR, "render-worker.mjs");
  await build({
    entryPoints: [join(REPO, "functions/handlers/render-worker/index.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ["module", "main"],
    external: ["@sparticuz/chromium"],
    alias: RENDER_WORKER_ALIASES,
    // The CDK runs esbuild in the repository root, which the aliases' paths are relative to.
    absWorkingDir: REPO,
    banner: {
      js: "import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);",
    },
    logLevel: "silent",
  });
  await writeFile(join(BUNDLE_DIR, "cold-driver.mjs"), DRIVER);
  return (await stat(outfile)).size;
}

async function runChild(env: NodeJS.ProcessEnv): Promise<ColdStartRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(BUNDLE_DIR, "cold-driver.mjs")], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const wallMs = round(performance.now() - started, 1);
  const line = stdout.split("\n").find((l) => l.startsWith('{"marks"'));
  if (!line) {
    throw new Error(`the cold-start worker exited with ${code} without a result: ${stderr.slice(-2000)}`);
  }
  const { marks, cpu, response } = JSON.parse(line) as {
    marks: Record<string, number>;
    cpu: NodeJS.CpuUsage;
    response: { batchItemFailures?: unknown[] };
  };
  const succeeded = (response.batchItemFailures ?? []).length === 0;
  return { wallMs, marks, phases: phases(marks, cpu), succeeded };
}

/** Durations between the marks, and the worker's CPU time (Chromium's apart), in milliseconds. */
function phases(m: Record<string, number>, cpu: NodeJS.CpuUsage): Record<string, number> {
  const span = (from: string, to: string) =>
    m[from] !== undefined && m[to] !== undefined
      ? round((m[to] as number) - (m[from] as number), 1)
      : Number.NaN;
  const M = STARTUP_MARKS;
  return {
    "node boot (process start → entry)": round(m["driver:start"] ?? Number.NaN, 1),
    "module init (import of the bundle)": span("driver:start", "module:loaded"),
    "Chromium extraction (overlaps init)": span(M.extractStart, M.extractEnd),
    "extraction started after process start": round(m[M.extractStart] ?? Number.NaN, 1),
    // The launch waits for the extraction; only the part after it is the launch itself.
    "browser launch": round(
      (m[M.launchEnd] ?? Number.NaN) - Math.max(m[M.launchStart] ?? 0, m[M.extractEnd] ?? 0),
      1,
    ),
    "first page": span(M.launchEnd, M.firstPage),
    "first render (content → bytes)": span(M.firstRenderStart, M.firstRenderEnd),
    "handler (invoke → returned)": span("module:loaded", "handler:returned"),
    total: round(m["handler:returned"] ?? Number.NaN, 1),
    // Less sensitive to other load than the durations: what the start cost, not how long it waited.
    "node CPU, user (all threads, not Chromium)": round(cpu.user / 1000, 1),
    "node CPU, system": round(cpu.system / 1000, 1),
  };
}

function medianPhases(runs: readonly ColdStartRun[]): Record<string, number> {
  const keys = Object.keys(runs[0]?.phases ?? {});
  return Object.fromEntries(
    keys.map((k) => {
      const values = runs.map((r) => r.phases[k] ?? Number.NaN).sort((a, b) => a - b);
      return [k, values[Math.floor((values.length - 1) / 2)] ?? Number.NaN];
    }),
  );
}

function sqsEvent(queueArn: string, message: Message): SQSEvent {
  const a = message.Attributes ?? {};
  const now = String(Date.now());
  return {
    Records: [
      {
        messageId: message.MessageId ?? "",
        receiptHandle: message.ReceiptHandle ?? "",
        body: message.Body ?? "",
        attributes: {
          ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
          SentTimestamp: a.SentTimestamp ?? now,
          SenderId: a.SenderId ?? "000000000000",
          ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? now,
        },
        messageAttributes: {},
        md5OfBody: message.MD5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: queueArn,
        awsRegion: LOCAL_REGION,
      },
    ],
  };
}
