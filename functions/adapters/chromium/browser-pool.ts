import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import chromium from "@sparticuz/chromium";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { RENDERS_PER_BROWSER } from "../../core/constants.js";
import { withDeadline } from "./deadline.js";
import { denyAllProxyArgs, EgressGuard, type EgressGuardOptions } from "./egress-guard.js";
import { chromiumExecutable } from "./executable.js";
import { fontConfigFile } from "./fonts.js";
import { applyViewport, type PageViewport, preparePage, resetPage } from "./page-setup.js";
import { markOnce, STARTUP_MARKS } from "./startup-marks.js";

export interface BrowserPoolOptions {
  /**
   * Renders one browser serves before it is retired (drained, then closed) and a fresh one launched.
   * Bounds the memory a long-lived browser accumulates.
   * @default RENDERS_PER_BROWSER (500)
   */
  readonly maxRendersPerBrowser?: number;
  /**
   * Resident memory (MB) of the browser process above which it is retired after the current render,
   * for templates that leak faster than `maxRendersPerBrowser` allows for. Read from /proc, so it
   * only acts on Linux (Lambda included). Off when unset.
   */
  readonly maxBrowserMemoryMb?: number;
  /**
   * Renders one page serves before it is closed. Between renders a page is reset (navigated to
   * about:blank), which costs Chromium less than opening a new one; a page still grows a little with
   * each render, so it is replaced now and then. 1 gives every render a fresh page.
   * @default 50
   */
  readonly maxRendersPerPage?: number;
  /**
   * Prepared pages kept waiting, opened in the background, so that a render never waits for one.
   * @default 1
   */
  readonly sparePages?: number;
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
  /**
   * The egress rules' fixed part: the signed asset origin, and (for tests) how hosts are resolved and
   * reached. Every page of the pool enforces them; each render adds the tenant's allowlist.
   */
  readonly egress?: EgressGuardOptions;
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
  /** Pages opened; fewer than `renders` when pages are reused. */
  readonly pagesOpened: number;
  /** Pages of the current browser ready for a render. */
  readonly idlePages: number;
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
  /** The most pages open at once: renders come in bursts of about this many. */
  peak: number;
  /** No new pages; close once `active` reaches 0. */
  retiring: boolean;
  /** The pool closed (or killed) it on purpose, so a disconnect is not a crash. */
  closing: boolean;
  /** Prepared or reset pages waiting for a render, oldest first. */
  readonly idle: Page[];
  /** Pages being opened or reset in the background, bound for `idle`. */
  pending: number;
  /** Renders waiting for one of the pending pages, first come first served; undefined: open your own. */
  readonly waiting: Array<(page: Page | undefined) => void>;
}

/**
 * Idle pages beyond this, or beyond the slot's peak of renders at once plus its spares if that is
 * more, are closed rather than kept: each holds a few MB of Chromium. Below the peak, a page closed
 * after one burst of renders would be opened again for the next.
 */
const MAX_IDLE_PAGES = 4;

const CLOSE_DEADLINE_MS = 5_000;

/** Starts the bundled Chromium: same binary, flags and fonts locally as on Lambda. */
export async function launchChromium(protocolTimeoutMs = 60_000): Promise<Browser> {
  // Kiln's font pack (CJK, Arabic, Hebrew, emoji) next to the package's Open Sans, through one
  // fontconfig file: the layer's on Lambda, the same files built locally elsewhere. Without it a local
  // render falls back to system fonts and differs from production.
  const fontConfig = fontConfigFile();
  if (fontConfig) process.env.FONTCONFIG_FILE = fontConfig;
  else process.env.FONTCONFIG_PATH ??= join(tmpdir(), "fonts");
  return puppeteer.launch({
    executablePath: await chromiumExecutable(),
    // A reset page's previous document must be gone, not kept alive for a "back" that never comes.
    // Software raster: SwiftShader's GPU raster draws large glyphs (over ~160 device pixels) slightly
    // differently from one process to the next, which breaks "same input, same bytes"; Skia's CPU
    // raster does not, and is faster here.
    // No --disable-web-security (the package's default): templates get the same-origin rules of any
    // page, and the egress guard serves what they may load with CORS allowed.
    args: [
      ...chromium.args.filter((arg) => arg !== "--disable-web-security"),
      "--disable-back-forward-cache",
      // RenderDocument gives every navigation a new frame in the renderer, with a compositor and GPU
      // channel of its own: the reset to about:blank between renders cost ≈ 15–20 ms more Chromium CPU
      // with it. Without it the frame is kept; the navigation still makes a new document and
      // JavaScript realm, which is what isolates one render from the next. (puppeteer merges every
      // --disable-features switch into one.)
      "--disable-features=RenderDocument",
      "--disable-gpu",
      // One locale wherever Kiln runs: Chromium otherwise takes it from LANG (en_US on Lambda, often
      // something else on a laptop), and it reaches the PDF print date, Intl and Accept-Language.
      "--lang=en-US",
      ...(await denyAllProxyArgs()),
    ],
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
 * Pages are prepared once, reset between renders and kept ready, so a render only loads its content
 * and captures it.
 */
export class BrowserPool {
  readonly #maxRenders: number;
  readonly #maxRssBytes: number | undefined;
  readonly #maxRendersPerPage: number;
  readonly #sparePages: number;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #launch: () => Promise<Browser>;
  readonly #egress: EgressGuard;

  #current: Slot | undefined;
  #launching: Promise<Slot> | undefined;
  readonly #slots = new Set<Slot>();
  /** Browser closes, and page closes and resets that finish after their render returned. */
  readonly #backgroundTasks = new Set<Promise<unknown>>();
  readonly #pageUses = new WeakMap<Page, number>();
  #closed = false;
  #drained: { promise: Promise<void>; resolve: () => void } | undefined;

  #launches = 0;
  #launchFailures = 0;
  #crashes = 0;
  #discards = 0;
  #recycles = 0;
  #renders = 0;
  #pagesOpened = 0;
  #inFlight = 0;

  constructor(options: BrowserPoolOptions = {}) {
    this.#maxRenders = options.maxRendersPerBrowser ?? RENDERS_PER_BROWSER;
    this.#maxRssBytes =
      options.maxBrowserMemoryMb === undefined ? undefined : options.maxBrowserMemoryMb * 1024 * 1024;
    this.#maxRendersPerPage = options.maxRendersPerPage ?? 50;
    this.#sparePages = options.sparePages ?? 1;
    this.#attempts = options.launchAttempts ?? 3;
    this.#backoffMs = options.launchBackoffMs ?? 100;
    const protocolTimeoutMs = options.protocolTimeoutMs ?? 60_000;
    this.#launch = options.launch ?? (() => launchChromium(protocolTimeoutMs));
    this.#egress = new EgressGuard(options.egress);
    for (const [name, value, min] of [
      ["maxRendersPerBrowser", this.#maxRenders, 1],
      ["maxRendersPerPage", this.#maxRendersPerPage, 1],
      ["sparePages", this.#sparePages, 0],
      ["launchAttempts", this.#attempts, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(`${name} must be a whole number of at least ${min}.`);
      }
    }
  }

  /**
   * Runs `fn` with a page of the warm browser, ready to render into at `viewport`. The page is
   * closed, or reset for the next render, after `fn` settles — whatever happens, but without making
   * the caller wait for it. If the browser turns out to have died before the page could be had
   * (setting the viewport is the first thing to reach it), a new browser is launched once and the
   * page opened there.
   */
  async withPage<T>(fn: (page: Page) => Promise<T>, viewport?: PageViewport): Promise<T> {
    const { slot, page } = await this.#openPage(viewport);
    let succeeded = false;
    try {
      const result = await fn(page);
      succeeded = true;
      return result;
    } finally {
      this.#renders += 1;
      this.#release(slot);
      this.#putBack(slot, page, succeeded);
    }
  }

  /**
   * Launches the browser and prepares its spare pages now rather than at the first render, e.g.
   * while a Lambda container initialises. Never rejects: a failure is retried by the first render.
   */
  warm(): void {
    if (this.#closed) return;
    const slot = this.#liveSlot();
    void (slot ? Promise.resolve(slot) : this.#launchOnce()).then(
      (s) => this.#topUp(s),
      () => undefined,
    );
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

  /** What the pool's pages may reach; renders start and end their part of it here. */
  get egress(): EgressGuard {
    return this.#egress;
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
      pagesOpened: this.#pagesOpened,
      idlePages: this.#current?.idle.length ?? 0,
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
    await Promise.all([...this.#backgroundTasks]);
  }

  async #openPage(viewport: PageViewport | undefined): Promise<{ slot: Slot; page: Page }> {
    for (let attempt = 1; ; attempt++) {
      const slot = await this.#acquire();
      let page: Page | undefined;
      try {
        // A page that is being reset is ready sooner, and for less CPU, than a new one.
        page = takeIdle(slot) ?? (await this.#nextPending(slot)) ?? (await this.#newPage(slot));
        this.#topUp(slot);
        if (viewport) await applyViewport(page, viewport);
        markOnce(STARTUP_MARKS.firstPage);
        return { slot, page };
      } catch (error) {
        this.#release(slot);
        if (page) this.#background(closePage(page));
        // A browser that died since the last render (killed, OOM) is noticed here: retry once on
        // a fresh one rather than fail a render that never started.
        if (slot.browser.connected || attempt > 1) throw error;
        this.#onDisconnected(slot);
      }
    }
  }

  /** A new page, prepared for rendering; closed again if preparing it fails. */
  async #newPage(slot: Slot): Promise<Page> {
    const page = await slot.browser.newPage();
    this.#pagesOpened += 1;
    try {
      await preparePage(page, this.#egress);
      return page;
    } catch (error) {
      await closePage(page);
      throw error;
    }
  }

  /** The next page to come out of a reset or an opening under way, unless others already wait for them all. */
  #nextPending(slot: Slot): Promise<Page | undefined> | undefined {
    if (slot.pending <= slot.waiting.length) return undefined;
    return new Promise((resolve) => slot.waiting.push(resolve));
  }

  /** Opens pages in the background until `sparePages` wait on the slot. */
  #topUp(slot: Slot): void {
    while (this.#accepts(slot) && slot.idle.length + slot.pending < this.#sparePages) {
      slot.pending += 1;
      this.#background(
        this.#newPage(slot).then(
          (page) => this.#settleIdle(slot, page, true),
          () => {
            slot.pending -= 1;
            slot.waiting.shift()?.(undefined);
          },
        ),
      );
    }
  }

  /** After a render: reset the page for the next one, or close it. */
  #putBack(slot: Slot, page: Page, succeeded: boolean): void {
    const uses = (this.#pageUses.get(page) ?? 0) + 1;
    this.#pageUses.set(page, uses);
    // A failed render may have left the page in any state: it is not worth the risk of reusing it.
    const reuse = succeeded && uses < this.#maxRendersPerPage && this.#accepts(slot) && !page.isClosed();
    if (!reuse) {
      this.#background(closePage(page));
      this.#topUp(slot);
      return;
    }
    slot.pending += 1;
    this.#background(resetPage(page).then((ok) => this.#settleIdle(slot, page, ok)));
  }

  /**
   * A page opened or reset in the background goes to the first render waiting for one, or joins the
   * slot's idle pages, if both are still good.
   */
  #settleIdle(slot: Slot, page: Page, ok: boolean): Promise<void> | undefined {
    slot.pending -= 1;
    if (ok && this.#accepts(slot) && !page.isClosed()) {
      const waiter = slot.waiting.shift();
      if (waiter) {
        waiter(page);
        return undefined;
      }
      if (slot.idle.length < Math.max(MAX_IDLE_PAGES, slot.peak + this.#sparePages)) {
        slot.idle.push(page);
        return undefined;
      }
      return closePage(page);
    }
    // A render counting on this page opens its own instead.
    slot.waiting.shift()?.(undefined);
    const closing = closePage(page);
    this.#topUp(slot);
    return closing;
  }

  /** Whether `slot` may still be given pages to keep. */
  #accepts(slot: Slot): boolean {
    return !this.#closed && !slot.retiring && slot.browser.connected;
  }

  #background(task: Promise<unknown>): void {
    const tracked = task.catch(() => undefined).finally(() => this.#backgroundTasks.delete(tracked));
    this.#backgroundTasks.add(tracked);
  }

  /** The current browser if it can take renders. */
  #liveSlot(): Slot | undefined {
    if (this.#closed) throw new Error("The browser pool is closed.");
    const slot = this.#current;
    return slot && !slot.retiring && slot.browser.connected ? slot : undefined;
  }

  /** Launches a browser, or joins the launch under way. */
  #launchOnce(): Promise<Slot> {
    this.#launching ??= this.#launchSlot().finally(() => {
      this.#launching = undefined;
    });
    return this.#launching;
  }

  async #acquire(): Promise<Slot> {
    for (;;) {
      // Checked and claimed in one step: renders waiting on the same launch may fill it up.
      const slot = this.#liveSlot();
      if (slot) {
        slot.uses += 1;
        slot.active += 1;
        slot.peak = Math.max(slot.peak, slot.active);
        this.#inFlight += 1;
        // Retire at the N-th hand-out so the N+1-th render already goes to a fresh browser.
        if (slot.uses >= this.#maxRenders) {
          this.#recycles += 1;
          this.#retire(slot);
        }
        return slot;
      }
      await this.#launchOnce();
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
        markOnce(STARTUP_MARKS.launchStart);
        const browser = await this.#launch();
        markOnce(STARTUP_MARKS.launchEnd);
        this.#launches += 1;
        const slot: Slot = {
          browser,
          uses: 0,
          active: 0,
          peak: 0,
          retiring: false,
          closing: false,
          idle: [],
          pending: 0,
          waiting: [],
        };
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
    // Its idle pages go with the browser; renders waiting for one open their own (and find it closing).
    slot.idle.length = 0;
    for (const waiter of slot.waiting.splice(0)) waiter(undefined);
    const closing = kill ? killBrowser(slot.browser) : closeBrowser(slot.browser);
    this.#background(closing);
    return closing;
  }
}

/** The oldest idle page that is still open, if any. */
function takeIdle(slot: Slot): Page | undefined {
  for (let page = slot.idle.shift(); page; page = slot.idle.shift()) {
    if (!page.isClosed()) return page;
  }
  return undefined;
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
