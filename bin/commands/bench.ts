import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
// Types only at the top: the bench's modules (Chromium, esbuild, the stand-ins) load when it runs.
import type { RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import type { ColdStartResult } from "../bench/cold-start.js";
import type { CaptureApi, ThroughputResult } from "../bench/direct.js";
import type { BenchFormat } from "../bench/fixtures.js";
import type { BenchStack, CacheHitResult, PipelineResult } from "../bench/pipeline.js";
import type { RssSample } from "../bench/proc.js";
import type { MemoryBreakdown } from "../bench/stack-process.js";
import type { LatencySummary } from "../bench/stats.js";
import { type Command, EXIT, UsageError } from "./cli-support.js";

const BENCH_FORMATS = ["png", "pdf"] as const;
const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;

const PARTS = ["raw", "naive", "kiln", "cold", "cache"] as const;
type Part = (typeof PARTS)[number];

interface Round {
  readonly raw?: Record<CaptureApi, ThroughputResult>;
  readonly saturated?: PipelineResult;
  readonly ratio?: number;
}

export interface FormatResult {
  readonly format: BenchFormat;
  readonly output: { width: number; height: number };
  /** Size of the POST body, which the job item carries. */
  readonly requestBytes: number;
  readonly raw?: Record<CaptureApi, ThroughputResult>;
  readonly naive?: ThroughputResult;
  readonly kiln?: { readonly steady: PipelineResult; readonly saturated: PipelineResult };
  /** Kiln's ChromiumRenderer with its pool, no pipeline, one render at a time: the render's own latency. */
  readonly rendererAlone?: LatencySummary;
  /** Submissions answered from the render cache. */
  readonly cacheHits?: CacheHitResult;
  /** Kiln saturated throughput over the best raw ceiling. */
  readonly kilnOverRaw?: number;
  /** The ratio in every round, when there were several. */
  readonly ratios?: number[];
}

/** Mean RSS over the samples taken while the render count was in (fromRenders, toRenders]. */
export interface RssWindow {
  readonly fromRenders: number;
  readonly toRenders: number;
  readonly samples: number;
  readonly nodeMb: number;
  readonly chromiumMb: number;
  /** Of `chromiumMb`, mapped files (binary, fonts) shared with the page cache. */
  readonly chromiumFileMb: number;
  readonly totalMb: number;
  readonly maxTotalMb: number;
  /** The AWS stand-ins' process, when they run apart: not part of the worker. */
  readonly standInsMb?: number;
}

/** What of each process's RSS V8 accounts for, every 500 renders. */
export interface MemoryPoint {
  readonly renders: number;
  readonly worker: MemoryBreakdown;
  readonly standIns?: MemoryBreakdown;
}

export interface SoakResult {
  readonly renders: number;
  readonly rendersPerHour: number;
  /** Around 500 renders, and over the last 250: windows rather than points, as the browser recycles. */
  readonly early: RssWindow;
  readonly late: RssWindow;
  /** Late over early mean worker RSS (its node process + Chromium), minus 1. */
  readonly growth: number;
  /** Late over early mean RSS of the stand-ins' process, minus 1. */
  readonly standInsGrowth?: number;
  readonly memory: MemoryPoint[];
  /**
   * The same window (its last 250 renders) of every browser the pool launched, one per 500 renders:
   * a trend across browsers is growth, a spread is noise.
   */
  readonly perBrowser: RssWindow[];
  readonly pool: unknown;
  readonly rss: RssSample[];
}

export interface BenchReport {
  readonly startedAt: string;
  readonly machine: { cpus: number; model: string; memoryGb: number; loadAverage1m: number };
  readonly settings: Record<string, unknown>;
  readonly formats: FormatResult[];
  readonly cold?: ColdStartResult;
  readonly soak?: SoakResult;
}

export const bench: Command = {
  summary: "measure throughput, latency, memory and cold start against raw Chromium",
  usage: `kiln bench [--only raw,naive,kiln,cold] [--cold] [--soak] [--json PATH] [options]

Renders the invoice example (PNG 1200×800 and PDF A4) three ways in one run and compares them:
  raw    puppeteer-core on warm pages of the same Chromium, nothing else (the ceiling)
  naive  launch, render, close per render
  kiln   submit over HTTP → succeeded, through a local stack in a child process and
         the AWS stand-ins in another (as in AWS, where DynamoDB, SQS and S3 are not in
         the worker's process), at a steady rate and at saturation, with the worker's
         RSS over time
  cold   the synthesized worker in a fresh Lambda-shaped sandbox (layer at /opt, empty /tmp) → its
         first render, phase by phase
  cache  through the same stack: the job rendered once, then submitted again one at a time, each
         answered succeeded by the POST from the render cache (its latency; goal p50 ≤ 25 ms)

Options:
  --only LIST         parts to run (default: all)
  --cold              only the cold start (same as --only cold)
  --cache-hits N      submissions of the cache part (default 100); \`--only cache --cache-hits 30\`
                      measures just the cache path
  --formats LIST      png,pdf (default both)
  --concurrency N     render lanes (default: the number of cores, as the worker uses)
  --raw N             renders per raw ceiling run (default 300)
  --naive N           renders of the naive baseline (default 20)
  --steady N          jobs of the steady-rate run (default 100)
  --rate R            jobs per second of the steady-rate run (default 4)
  --saturate N        jobs of the saturation run (default 300)
  --poll MS           the client's poll interval at the steady rate (default 10)
  --saturated-poll MS the poll interval at saturation, where polls compete with renders (default 100)
  --rounds N          alternate raw ceiling and saturated Kiln N times; report the median ratio (default 1)
  --one-process       run the AWS stand-ins in the stack's process, as \`npm start\` does
  --cold-runs N       cold starts to measure (default 3)
  --soak              memory mode (alone, or with --only): PNG renders through the pipeline,
                      worker RSS around 500 renders and over the last 250; the AWS stand-ins
                      run in a process of their own, measured apart (in AWS they are not
                      in the worker's Lambda)
  --soak-renders N    renders of the memory mode (default 5000)
  --examples DIR      where job.png.json and job.pdf.json are (default examples/invoice)
  --json PATH         also write the results as JSON`,

  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        only: { type: "string" },
        cold: { type: "boolean", default: false },
        formats: { type: "string", default: "png,pdf" },
        concurrency: { type: "string", default: String(availableParallelism()) },
        raw: { type: "string", default: "300" },
        naive: { type: "string", default: "20" },
        steady: { type: "string", default: "100" },
        rate: { type: "string", default: "4" },
        saturate: { type: "string", default: "300" },
        poll: { type: "string", default: "10" },
        "saturated-poll": { type: "string", default: "100" },
        "cold-runs": { type: "string", default: "3" },
        "cache-hits": { type: "string", default: "100" },
        rounds: { type: "string", default: "1" },
        "one-process": { type: "boolean", default: false },
        soak: { type: "boolean", default: false },
        "soak-renders": { type: "string", default: "5000" },
        examples: { type: "string", default: "examples/invoice" },
        json: { type: "string" },
      },
    });
    const int = (name: string, value: string | undefined, min = 1) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}`);
      return n;
    };
    const settings = {
      concurrency: int("concurrency", values.concurrency),
      raw: int("raw", values.raw),
      naive: int("naive", values.naive),
      steady: int("steady", values.steady),
      rate: Number(values.rate),
      saturate: int("saturate", values.saturate),
      pollMs: int("poll", values.poll),
      saturatedPollMs: int("saturated-poll", values["saturated-poll"]),
      coldRuns: int("cold-runs", values["cold-runs"]),
      cacheHits: int("cache-hits", values["cache-hits"]),
      rounds: int("rounds", values.rounds),
      standInsApart: !values["one-process"],
    };
    if (!(settings.rate > 0)) throw new UsageError("--rate must be a positive number of jobs per second");
    const soak = values.soak ? int("soak-renders", values["soak-renders"], 750) : undefined;
    const parts = selectParts(values.only, values.cold, soak !== undefined);
    const formats = values.formats.split(",").map((f) => f.trim());
    for (const f of formats) {
      if (!(BENCH_FORMATS as readonly string[]).includes(f)) throw new UsageError(`unknown format "${f}"`);
    }

    const { loadBenchJobs } = await import("../bench/fixtures.js");
    const { measureColdStart } = await import("../bench/cold-start.js");
    const { naive, rawCeiling, rendererAlone } = await import("../bench/direct.js");
    const { cacheHits, saturate, steadyRate } = await import("../bench/pipeline.js");
    const { machineLoad } = await import("../bench/proc.js");
    const { formatReport } = await import("../bench/report.js");

    const jobs = await loadBenchJobs(resolve(values.examples)).catch((err: Error) => {
      throw new UsageError(`cannot load the bench jobs from ${values.examples}: ${err.message}`);
    });
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const report: BenchReport = {
      startedAt: new Date().toISOString(),
      machine: {
        cpus: availableParallelism(),
        model: cpus()[0]?.model ?? "unknown",
        memoryGb: round(totalmem() / 1024 ** 3, 1),
        ...machineLoad(),
      },
      settings: { ...settings, parts, formats, soak },
      formats: [],
    };

    const work = await mkdtemp(join(tmpdir(), "kiln-bench-"));
    let stack: BenchStack | undefined;
    try {
      if (parts.includes("cold")) {
        log(
          `cold start: ${settings.coldRuns} fresh sandboxed environments of the synthesized worker, each with an empty /tmp`,
        );
        (report as { cold?: ColdStartResult }).cold = await measureColdStart({
          job: jobs.png,
          runs: settings.coldRuns,
          workDir: work,
          log,
        });
      }
      for (const format of formats as BenchFormat[]) {
        const job = jobs[format];
        const { width, height } = job.request.output;
        const entry: { -readonly [K in keyof FormatResult]: FormatResult[K] } = {
          format,
          output: { width, height },
          requestBytes: Buffer.byteLength(JSON.stringify(job.body)),
        };
        // Raw ceiling and saturated Kiln alternate, round by round, so that a change in the machine's
        // load hits both sides of the ratio; the round with the median ratio is reported.
        const rounds: Round[] = [];
        for (let r = 1; r <= settings.rounds; r++) {
          const result: { -readonly [K in keyof Round]: Round[K] } = {};
          const of = settings.rounds > 1 ? ` (round ${r} of ${settings.rounds})` : "";
          if (parts.includes("raw")) {
            result.raw = {} as Record<CaptureApi, ThroughputResult>;
            for (const api of ["puppeteer", "cdp"] as const) {
              log(
                `${format}: raw ceiling (${api}), ${settings.raw} renders on ${settings.concurrency} warm pages${of}`,
              );
              result.raw[api] = await rawCeiling(job, {
                renders: settings.raw,
                concurrency: settings.concurrency,
                api,
              });
            }
          }
          if (parts.includes("kiln")) {
            stack ??= await startStack(work, settings.concurrency, log, {
              warmup: jobs.png.uncached,
              separateStandIns: settings.standInsApart,
            });
            log(`${format}: Kiln saturated, ${settings.saturate} jobs${of}`);
            result.saturated = await saturate(stack, job.uncached, {
              jobs: settings.saturate,
              window: 50,
              pollMs: settings.saturatedPollMs,
            });
          }
          if (result.raw && result.saturated) {
            const best = Math.max(result.raw.puppeteer.rendersPerHour, result.raw.cdp.rendersPerHour);
            result.ratio = round(result.saturated.rendersPerHour / best, 2);
          }
          rounds.push(result);
        }
        const chosen = [...rounds].sort((a, b) => (a.ratio ?? 0) - (b.ratio ?? 0))[
          Math.floor((rounds.length - 1) / 2)
        ];
        if (chosen?.raw) entry.raw = chosen.raw;
        if (chosen?.ratio !== undefined) entry.kilnOverRaw = chosen.ratio;
        if (rounds.length > 1) entry.ratios = rounds.map((r) => r.ratio ?? Number.NaN);

        if (parts.includes("raw")) {
          log(`${format}: Kiln's renderer alone, ${Math.min(100, settings.raw)} renders one at a time`);
          entry.rendererAlone = await rendererAlone(job, Math.min(100, settings.raw));
        }
        if (parts.includes("naive")) {
          log(`${format}: naive, ${settings.naive} × launch → render → close`);
          entry.naive = await naive(job, { renders: settings.naive, concurrency: settings.concurrency });
        }
        if (parts.includes("kiln") && stack && chosen?.saturated) {
          log(
            `${format}: Kiln steady, ${settings.steady} jobs at ${settings.rate}/s, polling every ${settings.pollMs} ms`,
          );
          const steady = await steadyRate(stack, job.uncached, {
            jobs: settings.steady,
            ratePerSecond: settings.rate,
            pollMs: settings.pollMs,
          });
          entry.kiln = { steady, saturated: chosen.saturated };
        }
        if (parts.includes("cache")) {
          stack ??= await startStack(work, settings.concurrency, log, {
            warmup: jobs.png.uncached,
            separateStandIns: settings.standInsApart,
          });
          log(
            `${format}: cache hits, 1 render then ${settings.cacheHits} identical submissions one at a time`,
          );
          entry.cacheHits = await cacheHits(stack, job.body, settings.cacheHits);
        }
        report.formats.push(entry);
      }
      if (soak !== undefined) {
        if (stack) await stack.stop();
        // A fresh stack, so the counts start at zero; the stand-ins apart, so that what they store
        // for every job is not counted as the worker's.
        stack = await startStack(work, settings.concurrency, log, { separateStandIns: true });
        (report as { soak?: SoakResult }).soak = await runSoak(
          stack,
          jobs.png.uncached,
          soak,
          settings.saturatedPollMs,
          log,
        );
      }
    } finally {
      await stack?.stop();
      await rm(work, { recursive: true, force: true });
    }

    process.stdout.write(`${formatReport(report)}\n`);
    if (values.json) {
      const path = resolve(values.json);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
      log(`wrote ${path}`);
    }
    return EXIT.ok;
  },
};

function selectParts(only: string | undefined, cold: boolean, soak: boolean): Part[] {
  if (cold) return ["cold"];
  if (only === undefined) return soak ? [] : [...PARTS];
  const parts = only.split(",").map((p) => p.trim());
  for (const p of parts) {
    if (!(PARTS as readonly string[]).includes(p)) throw new UsageError(`unknown part "${p}" in --only`);
  }
  return parts as Part[];
}

async function startStack(
  work: string,
  concurrency: number,
  log: (l: string) => void,
  { warmup, separateStandIns }: { warmup?: unknown; separateStandIns: boolean },
) {
  const { startBenchStack } = await import("../bench/pipeline.js");
  const dataDir = join(work, `stack-${Date.now()}`);
  log(`starting a local stack in a child process${separateStandIns ? ", its stand-ins in another" : ""}`);
  const stack = await startBenchStack({ dataDir, renderConcurrency: concurrency, separateStandIns });
  if (warmup !== undefined) {
    // Launch Chromium and warm every lane before anything is timed.
    await Promise.all(
      Array.from({ length: 4 * concurrency }, async () => {
        const { id } = await stack.client.submitRender(warmup as RenderSubmissionInput);
        await stack.client.waitFor(id, { intervalMs: 20 });
      }),
    );
  }
  return stack;
}

async function runSoak(
  stack: BenchStack,
  body: unknown,
  renders: number,
  pollMs: number,
  log: (l: string) => void,
) {
  const { saturate } = await import("../bench/pipeline.js");
  log(`soak: ${renders} PNG renders through the pipeline`);
  const memory: MemoryPoint[] = [];
  const probe = async (at: number) => {
    const [{ memory: worker }, standIns] = await Promise.all([stack.stats(), stack.standInsMemory()]);
    memory.push({ renders: at, worker, ...(standIns ? { standIns } : {}) });
  };
  const probes: Array<Promise<void>> = [probe(0)];
  const run = await saturate(stack, body, {
    jobs: renders,
    window: 50,
    pollMs,
    onProgress: (done) => {
      if (done % 500 === 0) {
        probes.push(probe(done));
        log(`  ${done} rendered`);
      }
    },
  });
  await Promise.all(probes);
  const early = rssWindow(run.rss, 250, 500);
  // The local stack recycles its browser every 500 renders.
  const perBrowser = Array.from({ length: Math.floor(renders / 500) }, (_, i) =>
    rssWindow(run.rss, i * 500 + 250, i * 500 + 500),
  );
  const late = rssWindow(run.rss, renders - 250, renders);
  const { pool } = await stack.stats();
  return {
    renders,
    rendersPerHour: run.rendersPerHour,
    early,
    late,
    growth: round(late.totalMb / early.totalMb - 1, 3),
    ...(early.standInsMb && late.standInsMb
      ? { standInsGrowth: round(late.standInsMb / early.standInsMb - 1, 3) }
      : {}),
    memory,
    perBrowser,
    pool,
    rss: run.rss,
  };
}

function rssWindow(samples: readonly RssSample[], fromRenders: number, toRenders: number): RssWindow {
  const inside = samples.filter((s) => s.renders > fromRenders && s.renders <= toRenders);
  const mean = (f: (s: RssSample) => number) =>
    round(inside.reduce((sum, s) => sum + f(s), 0) / Math.max(1, inside.length), 1);
  return {
    fromRenders,
    toRenders,
    samples: inside.length,
    nodeMb: mean((s) => s.nodeMb),
    chromiumMb: mean((s) => s.chromiumMb),
    chromiumFileMb: mean((s) => s.chromiumFileMb),
    totalMb: mean((s) => s.nodeMb + s.chromiumMb),
    maxTotalMb: round(Math.max(0, ...inside.map((s) => s.nodeMb + s.chromiumMb)), 1),
    ...(inside.some((s) => s.standInsMb !== undefined) ? { standInsMb: mean((s) => s.standInsMb ?? 0) } : {}),
  };
}
