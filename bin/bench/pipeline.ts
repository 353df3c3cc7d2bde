/**
 * Kiln end to end: jobs submitted over HTTP to a local stack running in a child process, timed from
 * the submit to the moment the job became `succeeded`.
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { KilnClient, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import type { JobView } from "../../functions/core/job-view.js";
import { type RssSample, RssSampler, round } from "./proc.js";
import type {
  BenchStackMessage,
  BenchStackOptions,
  BenchStandInsOptions,
  MemoryBreakdown,
} from "./stack-process.js";
import { type LatencySummary, perHour, summarize } from "./stats.js";

type StatsMessage = Extract<BenchStackMessage, { type: "stats" }>;

export interface BenchStack {
  readonly client: KilnClient;
  /** The stack's node process: the worker, the API, the edge and, unless run apart, the AWS stand-ins. */
  readonly pid: number;
  /** The process of the AWS stand-ins, when they run apart from the stack. */
  readonly standInsPid?: number;
  /** The stack's counters; `reset` starts the worker's timings afresh. */
  stats(reset?: boolean): Promise<StatsMessage>;
  /** The stand-ins' process memory, when they run apart. */
  standInsMemory(): Promise<MemoryBreakdown | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts a local stack in a child process on a fresh data dir. With `separateStandIns` the AWS
 * stand-ins run in a second child process, so the stack process holds only the functions.
 */
export async function startBenchStack(options: {
  dataDir: string;
  renderConcurrency?: number;
  separateStandIns?: boolean;
}): Promise<BenchStack> {
  const apiKey = `bench-${randomBytes(12).toString("hex")}`;
  const { separateStandIns, ...stackOptions } = options;
  const standIns = separateStandIns
    ? await forkBenchProcess({ role: "stand-ins", dataDir: options.dataDir } satisfies BenchStandInsOptions)
    : undefined;
  try {
    const endpoints = standIns ? await standIns.next("stand-ins ready") : undefined;
    const stack = await forkBenchProcess({
      ...stackOptions,
      apiKey,
      ...(endpoints ? { standIns: { sqsS3: endpoints.sqsS3, dynamodb: endpoints.dynamodb } } : {}),
    } satisfies BenchStackOptions);
    const ready = await stack.next("ready").catch(async (err) => {
      await stack.stop();
      throw err;
    });
    return {
      client: new KilnClient({ baseUrl: ready.apiUrl, apiKey }),
      pid: stack.pid,
      ...(standIns ? { standInsPid: standIns.pid } : {}),
      stats: (reset = false) => stack.ask("stats", { reset }),
      standInsMemory: async () => (standIns ? (await standIns.ask("stand-ins stats", {})).memory : undefined),
      async stop() {
        await stack.stop();
        await standIns?.stop();
      },
    };
  } catch (err) {
    await standIns?.stop();
    throw err;
  }
}

/** A child running stack-process.ts, with typed waits on its messages. */
async function forkBenchProcess(options: BenchStackOptions | BenchStandInsOptions) {
  const script = fileURLToPath(new URL("./stack-process.ts", import.meta.url));
  const child = fork(script, [JSON.stringify(options)], {
    execArgv: ["--disable-warning=ExperimentalWarning", "--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const next = <T extends BenchStackMessage["type"]>(type: T) =>
    new Promise<Extract<BenchStackMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (m: BenchStackMessage) => {
        if (m.type === type) {
          cleanup();
          resolve(m as Extract<BenchStackMessage, { type: T }>);
        } else if (m.type === "failed") {
          cleanup();
          reject(new Error(`the local stack failed to start: ${m.message}`));
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`the local stack exited (code ${code}) before answering "${type}"`));
      };
      const cleanup = () => {
        child.off("message", onMessage);
        child.off("exit", onExit);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  // One question at a time, so that each answer goes to the question it answers.
  let asking: Promise<unknown> = Promise.resolve();
  const ask = <T extends BenchStackMessage["type"]>(type: T, fields: { reset?: boolean }) => {
    const answer = asking.then(() => {
      const reply = next(type);
      child.send({ type: "stats", ...fields });
      return reply;
    });
    asking = answer.catch(() => undefined);
    return answer;
  };
  return {
    pid: child.pid as number,
    next,
    ask,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const stopped = next("stopped").catch(() => undefined);
      child.send({ type: "stop" });
      await stopped;
      await exited;
    },
  };
}

export interface PipelineResult {
  readonly jobs: number;
  readonly failed: number;
  /** Size of the output of the first job that succeeded. */
  readonly outputBytes: number;
  readonly rendersPerHour: number;
  /** Submit (before the POST) → the job's `updatedAt` as it became succeeded, on the same clock. */
  readonly latencyMs: LatencySummary;
  /** Submit → the client's poll saw `succeeded`: the above plus up to one poll interval. */
  readonly observedMs: LatencySummary;
  /** The POST alone. */
  readonly submitMs: LatencySummary;
  /** The worker's part: start of the attempt → the job written succeeded (render and storage included). */
  readonly workerMs: LatencySummary;
  /** The browser pool's counters at the end of the run. */
  readonly pool: StatsMessage["pool"];
  /**
   * CPU milliseconds per render: the stack's node process, its Chromium, this load generator and,
   * when they run apart, the AWS stand-ins' process.
   */
  readonly cpuMsPerRender: {
    readonly node: number;
    readonly chromium: number;
    readonly client: number;
    readonly standIns?: number;
  };
  readonly rss: RssSample[];
}

interface Tracked {
  readonly submittedAt: number;
  readonly submitMs: number;
  readonly id: string;
  done?: JobView;
  observedAt?: number;
}

/**
 * Submits `jobs` jobs at `ratePerSecond` (spread evenly), each polled every `pollMs` until it ends.
 * Below saturation this is the latency a caller sees.
 */
export async function steadyRate(
  stack: BenchStack,
  body: unknown,
  options: { jobs: number; ratePerSecond: number; pollMs: number },
): Promise<PipelineResult> {
  let finished = 0;
  await stack.stats(true);
  const sampler = new RssSampler(stack.pid, () => finished, stack.standInsPid).start();
  const clientCpu = process.cpuUsage();
  const started = Date.now();
  const tracked = await Promise.all(
    Array.from({ length: options.jobs }, async (_, i) => {
      const at = started + (i * 1000) / options.ratePerSecond;
      await sleep(at - Date.now());
      const job = await submit(stack.client, body);
      job.done = await stack.client.waitFor(job.id, { intervalMs: options.pollMs, timeoutMs: 300_000 });
      job.observedAt = Date.now();
      finished += 1;
      return job;
    }),
  );
  return summarizeRun(tracked, started, sampler.stop(), process.cpuUsage(clientCpu), await stack.stats(true));
}

/**
 * Submits `jobs` jobs as fast as the API takes them (keeping at most `window` unfinished, like a
 * producer that waits for capacity) and waits for all of them: the pipeline's throughput.
 * Completions are observed in submission order, so `observedMs` overstates; `latencyMs` does not.
 */
export async function saturate(
  stack: BenchStack,
  body: unknown,
  options: { jobs: number; window: number; pollMs: number; onProgress?: (done: number) => void },
): Promise<PipelineResult> {
  let finished = 0;
  await stack.stats(true);
  const sampler = new RssSampler(stack.pid, () => finished, stack.standInsPid).start();
  const clientCpu = process.cpuUsage();
  const tracked: Tracked[] = [];
  const started = Date.now();
  let submitting = true;

  const producer = (async () => {
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < options.jobs; i++) {
      while (tracked.length - finished >= options.window) await sleep(options.pollMs);
      const p = submit(stack.client, body).then((job) => {
        tracked.push(job);
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      // A few POSTs in flight keep the API busy without queueing thousands of sockets.
      if (inFlight.size >= 8) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    submitting = false;
  })();

  // Oldest first: the queue is roughly FIFO, so the oldest unfinished job is the one to watch.
  for (let cursor = 0; submitting || cursor < tracked.length; ) {
    const job = tracked[cursor];
    if (!job) {
      await sleep(options.pollMs);
      continue;
    }
    const view = await stack.client.getRender(job.id);
    if (view.status === "succeeded" || view.status === "failed") {
      job.done = view;
      job.observedAt = Date.now();
      finished += 1;
      cursor += 1;
      if (finished % 100 === 0) options.onProgress?.(finished);
    } else {
      await sleep(options.pollMs);
    }
  }
  await producer;
  return summarizeRun(tracked, started, sampler.stop(), process.cpuUsage(clientCpu), await stack.stats(true));
}

async function submit(client: KilnClient, body: unknown): Promise<Tracked> {
  const submittedAt = Date.now();
  const t0 = performance.now();
  const { id } = await client.submitRender(body as RenderSubmissionInput);
  return { id, submittedAt, submitMs: performance.now() - t0 };
}

function summarizeRun(
  tracked: Tracked[],
  started: number,
  rss: RssSample[],
  clientCpu: NodeJS.CpuUsage,
  stats: StatsMessage,
): PipelineResult {
  const ok = tracked.filter((j) => j.done?.status === "succeeded");
  const succeededAt = (j: Tracked) => Date.parse(j.done?.updatedAt ?? "");
  const last = Math.max(...ok.map(succeededAt));
  const perRender = (cpuS: number) => round((cpuS * 1000) / Math.max(1, tracked.length), 1);
  const end = rss.at(-1);
  return {
    jobs: tracked.length,
    failed: tracked.length - ok.length,
    outputBytes: ok[0]?.done?.output?.bytes ?? 0,
    rendersPerHour: ok.length > 0 ? perHour(ok.length, last - started) : 0,
    latencyMs: summarize(ok.map((j) => succeededAt(j) - j.submittedAt)),
    observedMs: summarize(ok.map((j) => (j.observedAt ?? Number.NaN) - j.submittedAt)),
    submitMs: summarize(tracked.map((j) => j.submitMs)),
    workerMs: summarize(stats.workerMs),
    pool: stats.pool,
    cpuMsPerRender: {
      node: perRender(end?.nodeCpuS ?? 0),
      chromium: perRender(end?.chromiumCpuS ?? 0),
      client: perRender((clientCpu.user + clientCpu.system) / 1e6),
      ...(end?.standInsCpuS !== undefined ? { standIns: perRender(end.standInsCpuS) } : {}),
    },
    rss,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

export interface CacheHitResult {
  /** Submissions answered `succeeded` from the render cache, of `jobs`. */
  readonly hits: number;
  readonly jobs: number;
  /** POST /v1/renders → its answer, one at a time: the whole cost of a hit to a client. */
  readonly latencyMs: LatencySummary;
}

/**
 * Cache hits: the job rendered once (a miss), then submitted `jobs` times more, one at a time, each
 * answered succeeded by the POST itself with no render behind it.
 */
export async function cacheHits(stack: BenchStack, body: unknown, jobs: number): Promise<CacheHitResult> {
  const job = body as RenderSubmissionInput;
  const first = await stack.client.submitRender(job);
  await stack.client.waitFor(first.id, { intervalMs: 10, timeoutMs: 300_000 });
  const latencies: number[] = [];
  let hits = 0;
  for (let i = 0; i < jobs; i++) {
    const t0 = performance.now();
    const answer = await stack.client.submitRender(job);
    latencies.push(performance.now() - t0);
    if (answer.job?.cache === "hit") hits++;
  }
  return { hits, jobs, latencyMs: summarize(latencies) };
}
