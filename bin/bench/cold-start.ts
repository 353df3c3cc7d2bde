/**
 * Cold start of the render worker as Lambda runs it: the CDK app is synthesized and the synthesized
 * worker bundle runs in the Lambda-shaped sandbox (bin/artifacts/sandbox.ts) — /var/task read-only, the
 * Chromium layer at /opt (so Chromium is extracted from the layer's pack into a fresh, empty /tmp), the
 * function's synthesized environment (NODE_OPTIONS included) and Lambda's variables (AWS_EXECUTION_ENV
 * among them), node started as Lambda's bootstrap starts it — handed one real SQS record through the
 * Runtime API and timed to the end of its first invocation. Phases come from the performance marks the
 * Chromium adapter and the runtime loop leave (functions/adapters/chromium/startup-marks.ts,
 * bin/artifacts/runtime/bootstrap.mjs).
 */
import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { DynamoDbJobStore } from "../../functions/adapters/aws/dynamodb-job-store.js";
import { STARTUP_MARKS } from "../../functions/adapters/chromium/startup-marks.js";
import { ENV } from "../../functions/core/constants.js";
import { LOCAL_REGION } from "../../functions/local/aws-clients.js";
import { deployLocally } from "../artifacts/local-deployment.js";
import { startSandboxedFunction } from "../artifacts/sandbox.js";
import { synthesizeKiln } from "../artifacts/synth.js";
import type { BenchJob } from "./fixtures.js";
import { round } from "./proc.js";

const WORKER = "RenderWorker/Worker";
const MARKS_PREFIX = "KILN_RUNTIME_MARKS ";

export interface ColdStartRun {
  /** Sandbox spawn → the invocation's response, as the parent saw it (namespace setup included). */
  readonly wallMs: number;
  /** Milliseconds since the sandboxed node process started (its performance.timeOrigin). */
  readonly marks: Record<string, number>;
  readonly phases: Record<string, number>;
  readonly succeeded: boolean;
}

export interface ColdStartResult {
  /** The synthesized worker bundle's files (index.mjs and the chunks it loads), by name. */
  readonly bundleBytes: Readonly<Record<string, number>>;
  readonly runs: ColdStartRun[];
  readonly median: Record<string, number>;
  /** A second invocation of the last environment: the same render, warm. */
  readonly warmInvocation?: { readonly total: number };
}

export async function measureColdStart(options: {
  job: BenchJob;
  runs: number;
  workDir: string;
  log: (line: string) => void;
}): Promise<ColdStartResult> {
  options.log("  synthesizing the CDK app (the worker bundle and the Chromium layer)");
  const stack = synthesizeKiln(join(options.workDir, "cdk.out"));
  const worker = stack.functionAt(WORKER);
  const bundleBytes: Record<string, number> = {};
  for (const file of (await readdir(worker.codeDir)).filter((f) => f.endsWith(".mjs")).sort()) {
    bundleBytes[file] = (await stat(join(worker.codeDir, file))).size;
  }
  await mkdir(join(options.workDir, "keys"), { recursive: true });
  // The stand-ins, the template's tables, buckets and queues, and the worker's resolved environment;
  // no pollers: the bench hands the record over itself. The invoice needs no signer or CDN.
  const deployment = await deployLocally({
    stack,
    run: [WORKER],
    workDir: options.workDir,
    eventSources: false,
  });
  try {
    const service = deployment.service(WORKER);
    const { sqs, dynamodb } = deployment.clients;
    const jobs = new DynamoDbJobStore(dynamodb, String(service.environment[ENV.jobsTable]));
    const mapping = stack.resources.find(
      (r) =>
        r.type === "AWS::Lambda::EventSourceMapping" && r.properties.FunctionName?.Ref === worker.logicalId,
    );
    const queueId = mapping?.properties.EventSourceArn?.["Fn::GetAtt"]?.[0];
    const queue = deployment.bindings.get(String(queueId));
    if (!queue?.ref || !queue.attributes?.Arn)
      throw new Error("The worker's event source queue is not deployed.");
    const queueUrl = queue.ref;
    const queueArn = queue.attributes.Arn;

    const nextEvent = async (): Promise<{ event: SQSEvent; message: Message }> => {
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
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ tenant: "bench", jobId: id }),
        }),
      );
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ["All"],
        }),
      );
      const [message] = Messages;
      if (!message) throw new Error("the cold-start job's message did not arrive");
      return { event: sqsEvent(queueArn, message), message };
    };
    /** Hands a prepared record to `invocation`; deletes its message if the worker settled it. */
    const invoke = async (
      prepared: { event: SQSEvent; message: Message },
      invocation: (event: SQSEvent) => Promise<unknown>,
    ) => {
      const response = (await invocation(prepared.event)) as SQSBatchResponse | null;
      const succeeded = (response?.batchItemFailures ?? []).length === 0;
      if (succeeded) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: prepared.message.ReceiptHandle }),
        );
      }
      return succeeded;
    };

    const runs: ColdStartRun[] = [];
    let warmInvocation: { total: number } | undefined;
    for (let i = 0; i < options.runs; i++) {
      // The runtime writes its marks to stderr before it posts the response; the two arrive on different
      // pipes, so the line is awaited rather than looked for when the response is in.
      let reported: (line: string) => void = () => {};
      const report = new Promise<string>((resolve) => {
        reported = resolve;
      });
      // The record is ready before the environment starts, as on Lambda, where the event that finds
      // no warm environment is what starts one: init is not kept waiting for the job to be set up.
      const first = await nextEvent();
      const sandboxed = await startSandboxedFunction(service.spec, {
        reportMarks: true,
        onOutput: (stream, line) => {
          if (stream === "stderr" && line.startsWith(MARKS_PREFIX)) reported(line.slice(MARKS_PREFIX.length));
        },
      });
      try {
        const succeeded = await invoke(first, (event) => sandboxed.invoke(event));
        const wallMs = round(performance.now() - sandboxed.spawnedAt, 1);
        const line = await Promise.race([report, sandboxed.died.then((error) => Promise.reject(error))]);
        const { marks, cpu } = JSON.parse(line) as { marks: Record<string, number>; cpu: NodeJS.CpuUsage };
        const run: ColdStartRun = {
          wallMs,
          marks,
          phases: { ...phases(marks, cpu), "wall (spawn → response, with sandbox setup)": wallMs },
          succeeded,
        };
        options.log(
          `  run ${i + 1}: ${run.phases.total} ms to the first render${succeeded ? "" : " (FAILED)"}`,
        );
        runs.push(run);
        if (i === options.runs - 1) {
          const second = await nextEvent();
          let returned = 0;
          const started = performance.now();
          await invoke(second, async (event) => {
            const response = await sandboxed.invoke(event);
            returned = performance.now();
            return response;
          });
          warmInvocation = { total: round(returned - started, 1) };
        }
      } finally {
        await sandboxed.stop();
      }
    }
    return { bundleBytes, runs, median: medianPhases(runs), ...(warmInvocation ? { warmInvocation } : {}) };
  } finally {
    await deployment.stop();
  }
}

/** Durations between the marks, and the worker's CPU time (Chromium's apart), in milliseconds. */
function phases(m: Record<string, number>, cpu: NodeJS.CpuUsage): Record<string, number> {
  const first = (prefix: string) =>
    Math.min(...Object.entries(m).flatMap(([name, at]) => (name.startsWith(prefix) ? [at] : [])));
  const marks: Record<string, number> = {
    ...m,
    "invoke:start": first("runtime:invoke-start:"),
    "invoke:end": first("runtime:invoke-end:"),
  };
  const span = (from: string, to: string) =>
    marks[from] !== undefined && marks[to] !== undefined
      ? round((marks[to] as number) - (marks[from] as number), 1)
      : Number.NaN;
  const M = STARTUP_MARKS;
  return {
    "node boot (process start → runtime loop)": round(marks["runtime:start"] ?? Number.NaN, 1),
    "module init (import of the bundle)": span("runtime:start", "runtime:handler-loaded"),
    "Chromium extraction (overlaps init)": span(M.extractStart, M.extractEnd),
    "extraction started after process start": round(marks[M.extractStart] ?? Number.NaN, 1),
    // The launch waits for the extraction; only the part after it is the launch itself.
    "browser launch": round(
      (marks[M.launchEnd] ?? Number.NaN) - Math.max(marks[M.launchStart] ?? 0, marks[M.extractEnd] ?? 0),
      1,
    ),
    "first page": span(M.launchEnd, M.firstPage),
    "first render (content → bytes)": span(M.firstRenderStart, M.firstRenderEnd),
    "handler (invoke → returned)": span("invoke:start", "invoke:end"),
    total: round(marks["invoke:end"] ?? Number.NaN, 1),
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
