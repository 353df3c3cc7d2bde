/**
 * The two baselines Kiln is measured against, driving the same Chromium build with puppeteer-core
 * directly: the raw ceiling (warm pages, nothing but content + capture) and the naive way (a browser
 * per render).
 */
import type { CDPSession, Page } from "puppeteer-core";
import { BrowserPool, launchChromium } from "../../functions/adapters/chromium/browser-pool.js";
import { ChromiumRenderer } from "../../functions/adapters/chromium/chromium-renderer.js";
import type { OutputOptions } from "../../functions/core/render-request.js";
import type { BenchJob } from "./fixtures.js";
import { cpuSeconds, round } from "./proc.js";
import { type LatencySummary, perHour, runLanes, summarize } from "./stats.js";

export interface ThroughputResult {
  readonly renders: number;
  readonly concurrency: number;
  readonly rendersPerHour: number;
  readonly latencyMs: LatencySummary;
  readonly bytes: number;
  /** CPU milliseconds per render of this node process and of Chromium (raw ceiling only). */
  readonly cpuMsPerRender?: { readonly node: number; readonly chromium: number };
}

/** `puppeteer`: page.screenshot()/page.pdf(); `cdp`: the same capture sent straight over the page's session. */
export type CaptureApi = "puppeteer" | "cdp";

async function capture(page: Page, session: CDPSession, output: OutputOptions, api: CaptureApi) {
  if (output.format === "pdf") {
    const options = { printBackground: true, preferCSSPageSize: true } as const;
    if (api === "puppeteer") return page.pdf({ ...options, format: "A4" });
    const { data } = await session.send("Page.printToPDF", {
      ...options,
      paperWidth: 8.27,
      paperHeight: 11.7,
    });
    return Buffer.from(data, "base64");
  }
  if (api === "puppeteer") return page.screenshot({ type: output.format, captureBeyondViewport: false });
  const { data } = await session.send("Page.captureScreenshot", {
    format: output.format,
    captureBeyondViewport: false,
  });
  return Buffer.from(data, "base64");
}

/**
 * The ceiling: one warm page per lane, reused without any reset, viewport set once; each render is
 * only `setContent` + capture. No isolation between renders, no hydration, no storage.
 */
export async function rawCeiling(
  job: BenchJob,
  options: { renders: number; concurrency: number; api: CaptureApi; warmup?: number },
): Promise<ThroughputResult> {
  const browser = await launchChromium();
  try {
    const { output } = job.request;
    const lanes = await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        const page = await browser.newPage();
        await page.setViewport({
          width: output.width,
          height: output.height,
          deviceScaleFactor: output.scale,
        });
        return { page, session: await page.createCDPSession() };
      }),
    );
    let bytes = 0;
    const once = async (lane: number) => {
      const { page, session } = lanes[lane] as (typeof lanes)[number];
      await page.setContent(job.html, { waitUntil: "load" });
      bytes = (await capture(page, session, output, options.api)).byteLength;
    };
    await runLanes(options.warmup ?? 10 * options.concurrency, options.concurrency, once);
    const pid = browser.process()?.pid ?? 0;
    const cpu = { node: process.cpuUsage(), chromium: cpuSeconds(pid) };
    const run = await runLanes(options.renders, options.concurrency, once);
    const node = process.cpuUsage(cpu.node);
    return {
      ...result(options.renders, options.concurrency, run, bytes),
      cpuMsPerRender: {
        node: round((node.user + node.system) / 1000 / options.renders, 1),
        chromium: round(((cpuSeconds(pid) - cpu.chromium) * 1000) / options.renders, 1),
      },
    };
  } finally {
    await browser.close();
  }
}

/** Kiln's own renderer and pool, without the pipeline, one render at a time. */
export async function rendererAlone(job: BenchJob, renders: number): Promise<LatencySummary> {
  const pool = new BrowserPool();
  try {
    const renderer = new ChromiumRenderer({ pool });
    const once = async () => {
      await renderer.render(job.html, job.request.output);
    };
    await runLanes(10, 1, once);
    return summarize((await runLanes(renders, 1, once)).latenciesMs);
  } finally {
    await pool.close();
  }
}

/** The naive way: launch a browser, render, close it, for every render. */
export async function naive(
  job: BenchJob,
  options: { renders: number; concurrency: number },
): Promise<ThroughputResult> {
  let bytes = 0;
  const run = await runLanes(options.renders, options.concurrency, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const { output } = job.request;
      await page.setViewport({ width: output.width, height: output.height, deviceScaleFactor: output.scale });
      await page.setContent(job.html, { waitUntil: "load" });
      bytes = (await capture(page, await page.createCDPSession(), output, "puppeteer")).byteLength;
    } finally {
      await browser.close();
    }
  });
  return result(options.renders, options.concurrency, run, bytes);
}

function result(
  renders: number,
  concurrency: number,
  run: { latenciesMs: number[]; elapsedMs: number },
  bytes: number,
): ThroughputResult {
  return {
    renders,
    concurrency,
    rendersPerHour: perHour(renders, run.elapsedMs),
    latencyMs: summarize(run.latenciesMs),
    bytes,
  };
}
