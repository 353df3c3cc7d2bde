import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { RENDER_WAIT } from "../../functions/core/render-wait.js";
import {
  AWS_PRICES,
  batchRecordAssumptions,
  blendWithCacheHits,
  type CostAssumptions,
  type CostEstimate,
  type CostLine,
  compareWaitWithPolling,
  DEFAULT_ASSUMPTIONS,
  estimateCacheHit,
  estimateCost,
  idleMonthlyCost,
  isDelivery,
  monthlyCost,
  overTarget,
  requestItemSize,
  type WaitComparison,
  workerBilledMs,
} from "../cost/cost-model.js";
import type { BenchReport } from "./bench.js";
import { type Command, EXIT, UsageError } from "./cli-support.js";

/**
 * The worker's own node CPU per render besides Chromium: puppeteer messaging (~3 ms), five AWS SDK
 * calls (~4 ms), hydration (~1 ms) and hashing (~1 ms), from a CPU profile of the local stack. The
 * bench cannot measure it apart, because locally the same process also runs the AWS stand-ins.
 */
const WORKER_NODE_CPU_MS = 10;

/** What a single render through the API and a batch record should cost, without delivery (USD per 1,000). */
const TARGETS = { single: 0.02, batchRecord: 0.015 } as const;

export const cost: Command = {
  summary: "model the AWS cost per 1,000 renders and per month, from a bench run",
  usage: `kiln cost [--bench PATH] [--format png|pdf] [--daily N] [options]

Prices every AWS request one render causes (us-east-1 list prices, in bin/cost/cost-model.ts).
With --bench, the worker's duration and the sizes come from a \`kiln bench --json\` file: the
Chromium CPU per render measured at saturation, plus ${WORKER_NODE_CPU_MS} ms of the worker's own node CPU, spread
over the vCPUs the worker's memory buys, at the given utilization.

Options:
  --bench PATH          a kiln bench --json file (default: the built-in invoice figures)
  --format png|pdf      which of the bench's formats (default png)
  --daily N             renders per day for the monthly figure (default 100000)
  --memory MB           worker memory (default 2048)
  --utilization F       share of a worker invocation the CPU is busy, 0–1 (default 0.8)
  --status-reads N      GET /v1/renders/{id} per render (default 1)
  --deliveries N        downloads of each output through CloudFront (default 1)
  --cache-hit F         share of downloads CloudFront serves from cache, 0–1 (default 0)
  --render-cache-hit F  share of single submissions the render cache answers, 0–1 (default 0)
  --assets N            stored assets per job, one HEAD each at submission (default 0)
  --render-seconds S    for waited vs polled: seconds from submission to the job's end (default 2)
  --poll-interval S     for waited vs polled: seconds between polls (default 1)
  --json                print the estimate as JSON`,

  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        bench: { type: "string" },
        format: { type: "string", default: "png" },
        daily: { type: "string", default: "100000" },
        memory: { type: "string", default: String(DEFAULT_ASSUMPTIONS.workerMemoryMb) },
        utilization: { type: "string", default: "0.8" },
        "status-reads": { type: "string", default: String(DEFAULT_ASSUMPTIONS.statusReads) },
        deliveries: { type: "string", default: String(DEFAULT_ASSUMPTIONS.deliveries) },
        "cache-hit": { type: "string", default: String(DEFAULT_ASSUMPTIONS.cacheHitRatio) },
        "render-cache-hit": { type: "string", default: "0" },
        assets: { type: "string", default: String(DEFAULT_ASSUMPTIONS.assetsPerRender) },
        "render-seconds": { type: "string", default: "2" },
        "poll-interval": { type: "string", default: "1" },
        json: { type: "boolean", default: false },
      },
    });
    const num = (name: string, value: string, max = Number.POSITIVE_INFINITY) => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0 || n > max)
        throw new UsageError(`--${name} must be a number from 0 to ${max}`);
      return n;
    };
    const memoryMb = num("memory", values.memory, 10_240);
    if (memoryMb < 128) throw new UsageError("--memory must be at least 128 MB");
    const utilization = num("utilization", values.utilization, 1);
    if (utilization === 0) throw new UsageError("--utilization must be above 0");
    const daily = num("daily", values.daily);

    const measured = values.bench ? await fromBench(values.bench, values.format) : undefined;
    const chromiumCpuMs = measured?.chromiumCpuMs;
    const assumptions: CostAssumptions = {
      ...DEFAULT_ASSUMPTIONS,
      workerMemoryMb: memoryMb,
      workerBilledMsPerRender:
        chromiumCpuMs === undefined
          ? DEFAULT_ASSUMPTIONS.workerBilledMsPerRender * (DEFAULT_ASSUMPTIONS.workerMemoryMb / memoryMb)
          : workerBilledMs({ cpuMsPerRender: chromiumCpuMs + WORKER_NODE_CPU_MS, memoryMb, utilization }),
      statusReads: num("status-reads", values["status-reads"]),
      deliveries: num("deliveries", values.deliveries),
      cacheHitRatio: num("cache-hit", values["cache-hit"], 1),
      assetsPerRender: num("assets", values.assets),
      ...(measured?.requestBytes ? { requestBytes: measured.requestBytes } : {}),
      ...(measured?.outputBytes ? { outputBytes: measured.outputBytes } : {}),
    };
    const estimate = estimateCost(assumptions);
    const monthly = monthlyCost(estimate, daily);
    const idle = idleMonthlyCost();
    const pollInterval = num("poll-interval", values["poll-interval"]);
    if (pollInterval === 0) throw new UsageError("--poll-interval must be above 0");
    const waitComparison = compareWaitWithPolling(
      assumptions,
      num("render-seconds", values["render-seconds"], RENDER_WAIT.maxSeconds),
      pollInterval,
    );
    const renderCacheHit = num("render-cache-hit", values["render-cache-hit"], 1);
    const targets = targetFigures(assumptions, waitComparison, renderCacheHit);

    if (values.json) {
      const result = {
        source: measured?.source ?? "built-in",
        assumptions,
        prices: AWS_PRICES,
        estimate,
        daily,
        monthly,
        idle,
        waitComparison,
        targets,
      };
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return EXIT.ok;
    }
    process.stdout.write(`${describe(assumptions, estimate, measured, daily, monthly, idle)}\n\n`);
    process.stdout.write(`${describeWait(waitComparison)}\n\n`);
    process.stdout.write(`${describeTargets(targets)}\n`);
    return EXIT.ok;
  },
};

interface Measured {
  readonly source: string;
  readonly chromiumCpuMs?: number;
  readonly requestBytes?: number;
  readonly outputBytes?: number;
}

async function fromBench(path: string, format: string): Promise<Measured> {
  let report: BenchReport;
  try {
    report = JSON.parse(await readFile(path, "utf8")) as BenchReport;
  } catch (err) {
    throw new UsageError(`cannot read the bench results ${path}: ${(err as Error).message}`);
  }
  const entry = report.formats?.find((f) => f.format === format);
  if (!entry)
    throw new UsageError(`${path} has no ${format} results; run kiln bench with --formats ${format}`);
  const saturated = entry.kiln?.saturated;
  return {
    source: `${path} (${format}, ${report.startedAt})`,
    ...(saturated ? { chromiumCpuMs: saturated.cpuMsPerRender.chromium } : {}),
    requestBytes: entry.requestBytes,
    ...(saturated?.outputBytes || entry.raw?.puppeteer.bytes
      ? { outputBytes: saturated?.outputBytes || entry.raw?.puppeteer.bytes }
      : {}),
  };
}

const usd = (n: number) => (n >= 100 ? `$${n.toFixed(0)}` : n >= 1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`);
const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString("en-US") : n.toPrecision(3));

function describe(
  a: CostAssumptions,
  estimate: CostEstimate,
  measured: Measured | undefined,
  daily: number,
  monthly: number,
  idle: number,
): string {
  const worker = measured?.chromiumCpuMs
    ? `${measured.chromiumCpuMs} ms Chromium CPU (measured) + ${WORKER_NODE_CPU_MS} ms node CPU per render → ${a.workerBilledMsPerRender.toFixed(0)} ms billed at ${a.workerMemoryMb} MB`
    : `${a.workerBilledMsPerRender.toFixed(0)} ms billed per render at ${a.workerMemoryMb} MB (built-in figure)`;
  const lines = [
    `Kiln cost model — us-east-1 on-demand list prices, no free tier (${measured?.source ?? "built-in invoice figures"})`,
    "",
    "Per render:",
    `  worker         ${worker}; batches of ${a.batchSize}`,
    `  API            1 POST + ${a.statusReads} GET /v1/renders/{id} through API Gateway (REST) and the api function (${a.apiMemoryMb} MB, ${a.apiMsPerRequest} ms each)`,
    `  signer         ${a.statusReads} invocation(s), one per status read of a finished job (${a.signerMemoryMb} MB, ${a.signerMsPerInvocation} ms)`,
    `  SQS            ${a.sqsSendsPerRender} send + ${a.sqsRequestsPerBatch} per batch (receive, delete, visibility heartbeat)`,
    a.requestBytes <= a.inlineRequestBytes
      ? `  DynamoDB       1 write of the request item (the ${(a.requestBytes / 1024).toFixed(1)} KB request, brotli ×${a.requestCompression}: ${(requestItemSize(a) / 1024).toFixed(1)} KB), ${a.jobWrites} writes of the ${(a.jobItemBytes / 1024).toFixed(1)} KB job item, ${a.idempotencyKeyShare} Idempotency-Key claim(s); ${1 + a.statusReads} API key reads, ${a.statusReads} consistent job read(s), 1 request read by the worker`
      : `  DynamoDB       ${a.jobWrites} writes of the ${(a.jobItemBytes / 1024).toFixed(1)} KB job item (the ${(a.requestBytes / 1024).toFixed(0)} KB request is in S3), ${a.idempotencyKeyShare} Idempotency-Key claim(s); ${1 + a.statusReads} API key reads, ${a.statusReads} consistent job read(s)`,
    `  S3             1 PUT of the ${(a.outputBytes / 1024).toFixed(1)} KB output, kept ${a.retentionDays} days; GETs only on CloudFront misses`,
    `  CloudFront     ${a.deliveries} download(s) of the output, ${(a.cacheHitRatio * 100).toFixed(0)} % from cache`,
    `  logs           ${(a.logBytesPerRender / 1024).toFixed(1)} KB to CloudWatch Logs`,
    "",
    `  ${"service".padEnd(16)}${"item".padEnd(72)}${"per render".padStart(12)}  ${"unit".padEnd(9)}${"per 1,000".padStart(11)}`,
  ];
  for (const l of estimate.lines.filter((x) => x.perRender > 0)) {
    lines.push(
      `  ${l.service.padEnd(16)}${l.item.padEnd(72)}${fmt(l.perRender).padStart(12)}  ${l.unit.padEnd(9)}${usd(l.per1000).padStart(11)}`,
    );
  }
  lines.push(
    "",
    `  by service per 1,000: ${Object.entries(estimate.byService)
      .filter(([, v]) => v > 0)
      .sort(([, x], [, y]) => y - x)
      .map(([k, v]) => `${k} ${usd(v)}`)
      .join(", ")}`,
    "",
    `Per 1,000 renders: ${usd(estimate.per1000)} (${usd(estimate.per1000WithoutDelivery)} without delivering the outputs)`,
    `Per month at ${daily.toLocaleString("en-US")} renders a day: ${usd(monthly)}, plus ${usd(idle)} of idle SQS polling`,
    "Not included: free tiers, CloudWatch alarms and metrics, KMS, data transfer inside AWS (free in-region).",
  );
  return lines.join("\n");
}

function describeWait(c: WaitComparison): string {
  const table = (lines: WaitComparison["waited"]) =>
    lines.map(
      (l) =>
        `    ${l.service.padEnd(16)}${l.item.padEnd(56)}${fmt(l.perRender).padStart(12)}  ${l.unit.padEnd(9)}${usd(l.per1000).padStart(11)}`,
    );
  return [
    `Waited vs polled, for a render that ends ${c.renderSeconds} s after its submission (beyond the submission itself):`,
    `  Prefer: wait — the api function is held until the job ends: ${usd(c.waitedPer1000)} per 1,000`,
    ...table(c.waited),
    `  polling every ${c.pollIntervalSeconds} s — GET /v1/renders/{id} until it has ended: ${usd(c.polledPer1000)} per 1,000`,
    ...table(c.polled),
  ].join("\n");
}

interface TargetFigure {
  readonly name: string;
  readonly per1000: number;
  readonly target?: number;
  readonly lines: readonly CostLine[];
}

/**
 * The figures the targets are about, all without delivery: a single render submitted with
 * `Prefer: wait` (the answer carries the output, so no status read), blended with render-cache hits
 * at `renderCacheHit`; a batch record; and one cache hit.
 */
function targetFigures(
  a: CostAssumptions,
  wait: WaitComparison,
  renderCacheHit: number,
): { readonly renderCacheHit: number; readonly figures: readonly TargetFigure[] } {
  const waited = estimateCost({ ...a, statusReads: 0 });
  const singleLines = [...waited.lines.filter((l) => !isDelivery(l)), ...wait.waited];
  const single = waited.per1000WithoutDelivery + wait.waitedPer1000;
  const hit = estimateCacheHit(a);
  const batch = estimateCost(batchRecordAssumptions(a));
  const figures: TargetFigure[] = [
    {
      name: "single render through the API (Prefer: wait), rendered",
      per1000: single,
      target: TARGETS.single,
      lines: singleLines,
    },
    { name: "single render served from the render cache", per1000: hit.per1000, lines: hit.lines },
    {
      name: "batch record",
      per1000: batch.per1000WithoutDelivery,
      target: TARGETS.batchRecord,
      lines: batch.lines.filter((l) => !isDelivery(l)),
    },
  ];
  if (renderCacheHit > 0) {
    figures.splice(2, 0, {
      name: `single render, ${(renderCacheHit * 100).toFixed(0)} % served from the render cache`,
      per1000: blendWithCacheHits(single, hit.per1000, renderCacheHit),
      target: TARGETS.single,
      lines: [],
    });
  }
  return { renderCacheHit, figures };
}

function describeTargets(t: ReturnType<typeof targetFigures>): string {
  const out = ["Per 1,000, without delivering the outputs, against the targets:"];
  for (const f of t.figures) {
    const verdict =
      f.target === undefined
        ? ""
        : f.per1000 <= f.target
          ? ` (target ${usd(f.target)}: met)`
          : ` (target ${usd(f.target)}: ${usd(f.per1000 - f.target)} over)`;
    out.push(`  ${f.name.padEnd(64)}${usd(f.per1000).padStart(9)}${verdict}`);
    if (f.target === undefined || f.per1000 <= f.target || f.lines.length === 0) continue;
    out.push("    what is left, largest first (the total without it and every line above it):");
    for (const { line, without } of overTarget(f.lines, f.per1000, f.target)) {
      out.push(
        `      ${`${line.service}: ${line.item}`.padEnd(96)}${usd(line.per1000).padStart(9)} → ${usd(without)}`,
      );
    }
  }
  return out.join("\n");
}
