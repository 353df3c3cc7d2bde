import type { BenchReport, FormatResult, RssWindow, SoakResult } from "../commands/bench.js";
import type { ColdStartResult } from "./cold-start.js";
import type { ThroughputResult } from "./direct.js";
import type { PipelineResult } from "./pipeline.js";
import type { RssSample } from "./proc.js";
import type { MemoryBreakdown } from "./stack-process.js";
import type { LatencySummary } from "./stats.js";

const n = (v: number) => v.toLocaleString("en-US");
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 1 : 0) : "–");
const row = (label: string, perHour: string, p50: string, p95: string, extra = "") =>
  `  ${label.padEnd(44)}${perHour.padStart(11)}${p50.padStart(9)}${p95.padStart(9)}  ${extra}`.trimEnd();

function throughputRow(label: string, r: ThroughputResult, extra = "") {
  const cpu = r.cpuMsPerRender
    ? `CPU/render: node ${r.cpuMsPerRender.node} ms, Chromium ${r.cpuMsPerRender.chromium} ms`
    : "";
  return row(
    label,
    n(r.rendersPerHour),
    ms(r.latencyMs.p50),
    ms(r.latencyMs.p95),
    [extra, cpu].filter(Boolean).join("; "),
  );
}

function pipelineRows(label: string, r: PipelineResult, lat: (r: PipelineResult) => LatencySummary) {
  const failed = r.failed > 0 ? `  ${r.failed} FAILED` : "";
  return row(label, n(r.rendersPerHour), ms(lat(r).p50), ms(lat(r).p95), `${r.jobs} jobs${failed}`);
}

export function rssLine(samples: readonly RssSample[]) {
  if (samples.length === 0) return "";
  const first = samples[0] as RssSample;
  const last = samples.at(-1) as RssSample;
  const peak = (k: "nodeMb" | "chromiumMb") => Math.max(...samples.map((s) => s[k]));
  // The browser is recycled and may be between launches at either end: compare samples that have one.
  const withBrowser = samples.filter((s) => s.chromiumMb > 0);
  const chromium =
    withBrowser.length === 0
      ? "no browser sampled"
      : `${(withBrowser[0] as RssSample).chromiumMb.toFixed(0)}→${(withBrowser.at(-1) as RssSample).chromiumMb.toFixed(0)} MB (peak ${peak("chromiumMb").toFixed(0)})`;
  return `node ${first.nodeMb.toFixed(0)}→${last.nodeMb.toFixed(0)} MB (peak ${peak("nodeMb").toFixed(0)}), Chromium ${chromium}`;
}

function formatSection(f: FormatResult): string[] {
  const title = f.format === "png" ? `PNG ${f.output.width}×${f.output.height}` : "PDF A4";
  const lines = [row(`${title}, invoice`, "renders/h", "p50 ms", "p95 ms").slice(2)];
  if (f.raw) {
    lines.push(
      throughputRow("raw ceiling, page.screenshot()/pdf()", f.raw.puppeteer, `${n(f.raw.puppeteer.bytes)} B`),
    );
    lines.push(throughputRow("raw ceiling, CDP capture on the page session", f.raw.cdp));
  }
  if (f.naive) lines.push(throughputRow("naive: launch → render → close", f.naive));
  if (f.kiln) {
    const { steady, saturated } = f.kiln;
    lines.push(pipelineRows("Kiln end to end, saturated", saturated, (r) => r.latencyMs));
    lines.push(pipelineRows(`Kiln steady: submit → succeeded`, steady, (r) => r.latencyMs));
    lines.push(pipelineRows(`Kiln steady: submit → client saw it`, steady, (r) => r.observedMs));
    lines.push(
      row("Kiln steady: POST /v1/renders alone", "", ms(steady.submitMs.p50), ms(steady.submitMs.p95)),
    );
    lines.push(
      row("Kiln steady: worker, attempt → succeeded", "", ms(steady.workerMs.p50), ms(steady.workerMs.p95)),
    );
    if (f.rendererAlone) {
      const { p50, p95 } = f.rendererAlone;
      lines.push(row("Kiln renderer alone, one render at a time", "", ms(p50), ms(p95)));
    }
    const cpu = saturated.cpuMsPerRender;
    const standIns = cpu.standIns === undefined ? "" : `, AWS stand-ins ${cpu.standIns} ms`;
    lines.push(
      `  CPU per render (saturated): stack node ${cpu.node} ms${standIns}, Chromium ${cpu.chromium} ms, client ${cpu.client} ms`,
    );
    lines.push(`  worker RSS (saturated): ${rssLine(saturated.rss)}`);
    const p = saturated.pool;
    lines.push(
      `  browser pool (end): ${p.renders} renders on ${p.pagesOpened} pages, ${p.launches} launches, ${p.recycles} recycles, ${p.crashes} crashes`,
    );
  }
  if (f.cacheHits) {
    const { hits, jobs, latencyMs } = f.cacheHits;
    lines.push(
      row(
        "Kiln cache hit: POST → succeeded, no render",
        "",
        ms(latencyMs.p50),
        ms(latencyMs.p95),
        `${hits} of ${jobs} hits`,
      ),
    );
  }
  if (f.kilnOverRaw !== undefined) {
    const rounds = f.ratios
      ? ` (median of ${f.ratios.length} rounds: ${f.ratios.map((r) => r.toFixed(2)).join(", ")})`
      : "";
    lines.push(`  Kiln / raw ceiling: ${f.kilnOverRaw.toFixed(2)}${rounds}`);
  }
  return lines;
}

function coldSection(c: ColdStartResult): string[] {
  const lines = [
    `Cold start: the synthesized worker bundle in a Lambda-shaped sandbox, layer at /opt, empty /tmp → first render (median of ${c.runs.length})`,
    `  bundle: ${Object.entries(c.bundleBytes)
      .map(([file, bytes]) => `${file} ${(bytes / 1024).toFixed(0)} KB`)
      .join(", ")}`,
  ];
  for (const [name, value] of Object.entries(c.median))
    lines.push(`  ${name.padEnd(44)}${ms(value).padStart(8)} ms`);
  if (c.warmInvocation) {
    lines.push(`  same environment, next invocation (warm)    ${ms(c.warmInvocation.total).padStart(8)} ms`);
  }
  return lines;
}

function soakSection(s: SoakResult): string[] {
  const w = (x: RssWindow) =>
    `${x.totalMb.toFixed(0)} MB (node ${x.nodeMb.toFixed(0)}, Chromium ${x.chromiumMb.toFixed(0)} of which ${x.chromiumFileMb.toFixed(0)} mapped files; peak ${x.maxTotalMb.toFixed(0)}; ${x.samples} samples)`;
  const lines = [
    `Memory: ${n(s.renders)} PNG renders through the pipeline at ${n(s.rendersPerHour)}/h`,
    "  worker RSS: the node process that runs the worker (and the API, edge and signer), plus its Chromium",
    `  worker RSS, renders ${s.early.fromRenders}–${s.early.toRenders}: ${w(s.early)}`,
    `  worker RSS, renders ${s.late.fromRenders}–${s.late.toRenders}: ${w(s.late)}`,
    `  growth: ${(s.growth * 100).toFixed(1)} %; over the run: ${rssLine(s.rss)}`,
  ];
  if (s.early.standInsMb !== undefined && s.late.standInsMb !== undefined && s.standInsGrowth !== undefined) {
    lines.push(
      `  AWS stand-ins, a process of their own (not the worker's): ${s.early.standInsMb.toFixed(0)} → ${s.late.standInsMb.toFixed(0)} MB, ${(s.standInsGrowth * 100).toFixed(1)} %`,
    );
  }
  if (s.perBrowser.length > 1) {
    const each = (f: (x: RssWindow) => number | undefined) =>
      s.perBrowser.map((x) => (f(x) ?? 0).toFixed(0)).join(" ");
    lines.push(
      "  each browser, over its renders 250–500 (MB):",
      `    node                  ${each((x) => x.nodeMb)}`,
      `    Chromium              ${each((x) => x.chromiumMb)}`,
      `    Chromium mapped files ${each((x) => x.chromiumFileMb)}`,
    );
    if (s.perBrowser.some((x) => x.standInsMb !== undefined))
      lines.push(`    stand-ins (apart)     ${each((x) => x.standInsMb)}`);
  }
  if (s.memory.length > 0) {
    const f = (m: MemoryBreakdown) =>
      `${m.rssMb.toFixed(0)} (heap ${m.heapUsedMb.toFixed(0)}/${m.heapTotalMb.toFixed(0)}, external ${m.externalMb.toFixed(0)}, array buffers ${m.arrayBuffersMb.toFixed(0)})`;
    lines.push("  process.memoryUsage() MB, rss (heap used/total, external, array buffers):");
    for (const p of s.memory) {
      const standIns = p.standIns ? `; stand-ins ${f(p.standIns)}` : "";
      lines.push(`    ${String(p.renders).padStart(6)} renders: node ${f(p.worker)}${standIns}`);
    }
  }
  return lines;
}

export function formatReport(report: BenchReport): string {
  const { machine } = report;
  const out = [
    `Kiln bench — ${machine.cpus} × ${machine.model}, ${machine.memoryGb} GB, load ${machine.loadAverage1m} at start`,
    "",
  ];
  if (report.cold) out.push(...coldSection(report.cold), "");
  for (const f of report.formats) {
    if (f.raw || f.naive || f.kiln || f.cacheHits) out.push(...formatSection(f), "");
  }
  if (report.soak) out.push(...soakSection(report.soak), "");
  return out.join("\n").trimEnd();
}
