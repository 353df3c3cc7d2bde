import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import chromium from "@sparticuz/chromium";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { withDeadline } from "./deadline.js";

export interface BrowserPoolOptions {
  /**
   * Renders one browser serves before it is retired (drained, then closed) and a fresh one launched.
   * Bounds the memory a long-lived browser accumulates.
   * @default 200
   */
  readonly maxRendersPerBrowser?: number;
  /**
   * Resident memory (MB) of the browser process above which it is retired after the current render,
   * for templates that leak faster than `maxRendersPerBrowser` allows for. Read from /proc, so it
   * only acts on Linux (Lambda included). Off when unset.
   */
  readonly maxBrowserMemoryMb?: number;
  /**
   * Launch attempts before giving up; roughly 1 launch in 250 fails spuriously.
   * @default 3
   */
  readonly launchAttempts?: number;
  /**
   * Wait before the second launch attempt; doubles for each further attempt.
   * @default 100
   */
  readonly launchBackoffMs?: number;
  /**
   * Upper bound for a single DevTools protocol call. Renders have their own, shorter timeout; this
   * only keeps a wedged browser from holding calls for puppeteer's default three minutes.
   * @default 60000
   */
  readonly protocolTimeoutMs?: number;
  /**
   * Starts a browser. Defaults to the @sparticuz/chromium build with its recommended flags, the same
   * binary locally and on Lambda. Replaceable so a test can make launches fail.
   */
  readonly launch?: () => Promise<Browser>;
}

export interface BrowserPoolStats {
  /** Browsers started successfully. */
  readonly launches: number;
  /** Launch attempts that failed (each retried until `launchAttempts` is spent). */
  readonly launchFailures: number;
  /** Browsers that disconnected without the pool closing them (crash, OOM kill). */
  readonly crashes: number;
  /** Browsers killed through `discard()` because they stopped responding. */
  readonly discards: number;
  /** Browsers retired after `maxRendersPerBrowser` renders or for exceeding `maxBrowserMemoryMb`. */
  readonly recycles: number;
  /** Pages handed out and finished, successfully or not. */
  readonly renders: number;
  /** Pages currently in use, across all browsers. */
  readonly inFlight: number;
}

/** One launched browser and the pages it is serving. */
interface Slot {
  readonly browser: Browser;
  /** Pages handed out over the slot's life; drives recycling. */
  uses: number;
  /** Pages currently open. */
  active: number;
  /** No new pages; close once `active` reaches 0. */
  retiring: boolean;
  /** The pool closed (or killed) it on purpose, so a disconnect is not a crash. */
  closing: boolean;
}

const CLOSE_DEADLINE_MS = 5_000;

/** Starts the bundled Chromium: same binary, flags and fonts locally as on Lambda. */
export async function launchChromium(protocolTimeoutMs = 60_000): Promise<Browser> {
  // The package extracts its fonts to <tmp>/fonts but only points fontconfig there on Lambda;
  // without this a local render falls back to system fonts and differs from production.
  process.env.FONTCONFIG_PATH ??= join(tmpdir(), "fonts");
  return puppeteer.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args,
    headless: "shell",
    // Every render sets its own viewport; skip the default one puppeteer would apply first.
    defaultViewport: null,
    protocolTimeout: protocolTimeoutMs,
    // Over a pipe Chromium exits when its parent does, even on SIGKILL; over a WebSocket it would
    // linger as an orphan holding ~200 MB.
    pipe: true,
    // The host process owns shutdown (pool.close()); puppeteer's SIGINT handler would exit the
    // process outright. Its exit hook still kills the browser if Node dies.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

/**
 * Owns the warm browser of this process. Launches it lazily (with retries), hands out pages in the
 * default context (`--single-process` makes a new browser context kill the browser), relaunches
 * after a crash, and recycles the browser after N renders without cutting off renders in flight.
 */
export class BrowserPool {
  readonly #maxRenders: number;
  readonly #maxRssBytes: number | undefined;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #launch: () => Promise<Browser>;

  #current: Slot | undefined;
  #launching: Promise<Slot> | undefined;
  readonly #slots = new Set<Slot>();
  readonly #closingTasks = new Set<Promise<void>>();
  #closed = false;
  #drained: { promise: Promise<void>; resolve: () => void } | undefined;

  #launches = 0;
  #launchFailures = 0;
  #crashes = 0;
  #discards = 0;
  #recycles = 0;
  #renders = 0;
  #inFlight = 0;

  constructor(options: BrowserPoolOptions = {}) {
    this.#maxRenders = options.maxRendersPerBrowser ?? 200;
    this.#maxRssBytes =
      options.maxBrowserMemoryMb === undefined ? undefined : options.maxBrowserMemoryMb * 1024 * 1024;
    this.#attempts = options.launchAttempts ?? 3;
    this.#backoffMs = options.launchBackoffMs ?? 100;
    const protocolTimeoutMs = options.protocolTimeoutMs ?? 60_000;
    this.#launch = options.launch ?? (() => launchChromium(protocolTimeoutMs));
    if (!Number.isInteger(this.#maxRenders) || this.#maxRenders < 1) {
      throw new RangeError("maxRendersPerBrowser must be a positive integer.");
    }
    if (!Number.isInteger(this.#attempts) || this.#attempts < 1) {
      throw new RangeError("launchAttempts must be a positive integer.");
    }
  }

  /**
   * Runs `fn` with a fresh page of the warm browser and closes the page afterwards, whatever
   * happens. If the browser turns out to have died before the page could be opened, a new browser
   * is launched once and the page opened there.
   */
  async withPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
    const { slot, page } = await this.#openPage();
    try {
      return await fn(page);
    } finally {
      await closePage(page);
      this.#renders += 1;
      this.#release(slot);
    }
  }

  /**
   * Kills `browser` now, failing whatever else it is rendering; the next render launches a new one.
   * For a browser that stopped responding (a runaway script blocks every page in single-process mode).
   */
  async discard(browser: Browser): Promise<void> {
    const slot = [...this.#slots].find((s) => s.browser === browser);
    if (!slot) return;
    this.#discards += 1;
    slot.retiring = true;
    if (this.#current === slot) this.#current = undefined;
    await this.#closeSlot(slot, { kill: true });
  }

  /** PID of the current browser process, if one is running. */
  browserProcessId(): number | undefined {
    return this.#current?.browser.process()?.pid;
  }

  stats(): BrowserPoolStats {
    return {
      launches: this.#launches,
      launchFailures: this.#launchFailures,
      crashes: this.#crashes,
      discards: this.#discards,
      recycles: this.#recycles,
      renders: this.#renders,
      inFlight: this.#inFlight,
    };
  }

  /** Refuses new renders, lets the ones in flight finish, then closes every browser. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#launching?.catch(() => undefined);
    if (this.#inFlight > 0) {
      if (!this.#drained) {
        let resolve = () => {};
        const promise = new Promise<void>((r) => {
          resolve = r;
        });
        this.#drained = { promise, resolve };
      }
      await this.#drained.promise;
    }
    for (const slot of this.#slots) this.#retire(slot);
    await Promise.all([...this.#closingTasks]);
  }

  async #openPage(): Promise<{ slot: Slot; page: Page }> {
    for (let attempt = 1; ; attempt++) {
      const slot = await this.#acquire();
      try {
        return { slot, page: await slot.browser.newPage() };
      } catch (error) {
        this.#release(slot);
        // A browser that died since the last render (killed, OOM) is noticed here: retry once on
        // a fresh one rather than fail a render that never started.
        if (slot.browser.connected || attempt > 1) throw error;
        this.#onDisconnected(slot);
      }
    }
  }

  async #acquire(): Promise<Slot> {
    for (;;) {
      if (this.#closed) throw new Error("The browser pool is closed.");
      const slot = this.#current;
      if (slot && !slot.retiring && slot.browser.connected) {
        slot.uses += 1;
        slot.active += 1;
        this.#inFlight += 1;
        // Retire at the N-th hand-out so the N+1-th render already goes to a fresh browser.
        if (slot.uses >= this.#maxRenders) {
          this.#recycles += 1;
          this.#retire(slot);
        }
        return slot;
      }
      // Renders waiting on the same launch may fill the new browser up: loop and look again.
      this.#launching ??= this.#launchSlot().finally(() => {
        this.#launching = undefined;
      });
      await this.#launching;
    }
  }

  #release(slot: Slot): void {
    slot.active -= 1;
    this.#inFlight -= 1;
    if (!slot.retiring && this.#maxRssBytes !== undefined) {
      const rss = residentBytes(slot.browser);
      if (rss !== undefined && rss > this.#maxRssBytes) {
        this.#recycles += 1;
        this.#retire(slot);
      }
    }
    if (slot.retiring && slot.active === 0) void this.#closeSlot(slot);
    if (this.#inFlight === 0) this.#drained?.resolve();
  }

  async #launchSlot(): Promise<Slot> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (attempt > 1) await delay(this.#backoffMs * 2 ** (attempt - 2));
      try {
        const browser = await this.#launch();
        this.#launches += 1;
        const slot: Slot = { browser, uses: 0, active: 0, retiring: false, closing: false };
        this.#slots.add(slot);
        this.#current = slot;
        browser.once("disconnected", () => this.#onDisconnected(slot));
        if (this.#closed) this.#retire(slot);
        return slot;
      } catch (error) {
        this.#launchFailures += 1;
        lastError = error;
      }
    }
    throw new Error(`Chromium failed to launch after ${this.#attempts} attempts: ${describe(lastError)}`, {
      cause: lastError,
    });
  }

  #onDisconnected(slot: Slot): void {
    if (!this.#slots.has(slot)) return;
    if (!slot.closing) this.#crashes += 1;
    slot.retiring = true;
    if (this.#current === slot) this.#current = undefined;
    // Renders still on it fail by themselves; make sure no orphaned process stays behind.
    void this.#closeSlot(slot, { kill: true });
  }

  /** Stops handing out pages from `slot`; closes it now if nothing is rendering on it. */
  #retire(slot: Slot): void {
    slot.retiring = true;
    if (this.#current === slot) this.#current = undefined;
    if (slot.active === 0) void this.#closeSlot(slot);
  }

  #closeSlot(slot: Slot, { kill = false } = {}): Promise<void> {
    if (!this.#slots.has(slot)) return Promise.resolve();
    slot.closing = true;
    this.#slots.delete(slot);
    const closing = kill ? killBrowser(slot.browser) : closeBrowser(slot.browser);
    const task = closing.finally(() => this.#closingTasks.delete(task));
    this.#closingTasks.add(task);
    return task;
  }
}

/** Closes a page without letting a dead or wedged browser hang or fail the caller. */
async function closePage(page: Page): Promise<void> {
  if (page.isClosed()) return;
  await withDeadline(page.close(), CLOSE_DEADLINE_MS).catch(() => undefined);
}

async function closeBrowser(browser: Browser): Promise<void> {
  if (browser.connected) {
    const closed = await withDeadline(browser.close(), CLOSE_DEADLINE_MS).then(
      () => true,
      () => false,
    );
    if (closed) return;
  }
  await killBrowser(browser);
}

async function killBrowser(browser: Browser): Promise<void> {
  browser.process()?.kill("SIGKILL");
  // Lets puppeteer settle the connection and its process hooks.
  if (browser.connected) await withDeadline(browser.close(), CLOSE_DEADLINE_MS).catch(() => undefined);
}

/** Resident set size of the browser process (all of Chromium, given `--single-process`). */
function residentBytes(browser: Browser): number | undefined {
  const pid = browser.process()?.pid;
  if (pid === undefined) return undefined;
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
