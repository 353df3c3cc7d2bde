import type { Browser, Page, PaperFormat } from "puppeteer-core";
import { EGRESS_BLOCKED } from "../../core/egress-policy.js";
import { isPermanent, KilnError, PermanentRenderError } from "../../core/errors.js";
import { OUTPUT_LIMITS, PAPER_SIZES, type PaperName } from "../../core/output-options.js";
import type { LiveCapture, Renderer } from "../../core/ports.js";
import type { OutputOptions, PageOptions } from "../../core/render-request.js";
import type { LivePage, RenderedDocument } from "../../core/url-source.js";
import { BrowserPool } from "./browser-pool.js";
import { withDeadline } from "./deadline.js";
import type { BlockedRequest } from "./egress-guard.js";
import {
  assertPageCount,
  assertSettled,
  clockScript,
  displayUrl,
  opaqueBackground,
  pdfParams,
  type SettledDocument,
  screenshotParams,
  settleScript,
  transparentBackground,
  waitForReady,
  watchResources,
} from "./page-readiness.js";
import {
  captureSession,
  clearPageStorage,
  DETERMINISM_CSS,
  DETERMINISM_MARKER,
  noteDocument,
  setMediaType,
  setScriptsEnabled,
} from "./page-setup.js";
import { normalizePdf } from "./pdf-determinism.js";
import { markOnce, STARTUP_MARKS } from "./startup-marks.js";

export interface ChromiumRendererOptions {
  /**
   * The browser pool to render with. When omitted the renderer creates its own and `close()`
   * closes it; a pool passed in belongs to the caller.
   */
  readonly pool?: BrowserPool;
  /**
   * Budget for one render, from asking for a page to the last byte of output.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * Paper size of PDFs whose HTML declares no CSS `@page { size }`.
   * @default "A4"
   */
  readonly pdfFormat?: PaperFormat;
  /**
   * Render anyway when a web font or image of the template fails to load, for every job (a job can
   * ask the same with `resourceErrors: "ignore"`). By default the render fails, naming the URLs:
   * Chromium would silently substitute a fallback font or draw a broken image.
   * @default false
   */
  readonly allowFontErrors?: boolean;
  /**
   * Encode screenshots for speed rather than size (Chromium's `optimizeForSpeed`). For a 1200×800
   * PNG invoice: about a quarter less Chromium CPU per render, a quarter more bytes to store and serve.
   * Still deterministic, but the bytes differ from the default encoding's.
   * @default false
   */
  readonly fastEncoding?: boolean;
}

/** The render took longer than its budget. Retryable: the worker may try again. */
export class RenderTimeoutError extends KilnError {
  constructor(readonly timeoutMs: number) {
    super(
      "transient",
      "render_timeout",
      `The render did not finish within ${timeoutMs} ms: the page kept loading (a resource that ` +
        "never answers) or a script kept it busy.",
    );
  }
}

/** Code of the PermanentRenderError raised when Chromium rejects the template itself. */
export const RENDER_ERROR_CODE = "render_error";

/** Code of the failure when a URL job's page answers an HTTP error (permanent for a 4xx). */
export const PAGE_ERROR_CODE = "page_error";

/** What a render loads into its page: a template's HTML, or a live page. */
type PageContent = { readonly html: string } | { readonly live: LivePage };

/** How long an unresponsive page gets to answer a trivial evaluation after a timeout. */
const PROBE_DEADLINE_MS = 1_000;
/** How long the abandoned work of a timed-out render gets to unwind once its page is gone. */
const UNWIND_DEADLINE_MS = 5_000;

/**
 * Page.printToPDF results that no retry can change (Chromium's print_to_pdf result strings), matched
 * on the message because puppeteer exposes no codes. "Printing failed" is deliberately absent: it
 * also covers transient failures. Page ranges come from output.pdf.pageRanges.
 */
const PERMANENT_PROTOCOL_MESSAGES = [
  "Page range syntax error",
  "Page range is invalid",
  "Page range exceeds page count",
];

/**
 * Renders HTML to PNG, JPEG, WebP or PDF in a page of the pool's warm browser. Identical
 * input gives identical bytes: fixed viewport and scale, no motion, UTC, fonts and images settled
 * before capture, and PDF timestamps and ids normalised.
 */
export class ChromiumRenderer implements Renderer {
  readonly #pool: BrowserPool;
  readonly #ownsPool: boolean;
  readonly #timeoutMs: number;
  readonly #defaultPaper: { width: number; height: number };
  readonly #allowFontErrors: boolean;
  readonly #fastEncoding: boolean;

  constructor(options: ChromiumRendererOptions = {}) {
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new BrowserPool();
    this.#timeoutMs = options.timeoutMs ?? OUTPUT_LIMITS.renderTimeoutMs;
    this.#defaultPaper =
      PAPER_SIZES[(options.pdfFormat ?? "A4").toLowerCase() as PaperName] ?? PAPER_SIZES.a4;
    this.#allowFontErrors = options.allowFontErrors ?? false;
    this.#fastEncoding = options.fastEncoding ?? false;
  }

  get pool(): BrowserPool {
    return this.#pool;
  }

  async render(html: string, output: OutputOptions, pageOptions: PageOptions = {}): Promise<Uint8Array> {
    return (await this.#run({ html }, output, pageOptions)).bytes;
  }

  async capture(live: LivePage, output: OutputOptions, pageOptions: PageOptions = {}): Promise<LiveCapture> {
    const { bytes, document } = await this.#run({ live }, output, pageOptions);
    // The page loaded, so its document arrived through the guard.
    if (!document) throw new Error(`The main document of ${displayUrl(live.url)} was not seen.`);
    return { bytes, document };
  }

  async #run(
    content: PageContent,
    output: OutputOptions,
    pageOptions: PageOptions,
  ): Promise<{ bytes: Uint8Array; document?: RenderedDocument }> {
    const started = Date.now();
    // A job may lower the worker's budget, never raise it.
    const budgetMs = Math.min(this.#timeoutMs, pageOptions.timeoutMs ?? this.#timeoutMs);
    const remaining = () => Math.max(1, budgetMs - (Date.now() - started));
    let timedOut = false;
    let page: Page | undefined;

    const work = this.#pool.withPage(
      async (p) => {
        page = p;
        // Launch or page creation ate the whole budget; the caller has already been told.
        if (timedOut) throw new RenderTimeoutError(budgetMs);
        try {
          return await this.#renderOn(p, content, output, pageOptions, remaining);
        } catch (error) {
          // Classified here, while the pool has not yet closed the page: a page closed now was
          // closed by the template or a crash.
          throw timedOut ? error : await classify(error, p);
        }
      },
      { width: output.width, height: output.height, deviceScaleFactor: output.scale },
    );

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new RenderTimeoutError(budgetMs));
      }, budgetMs);
    });

    try {
      return await Promise.race([work, timeout]);
    } catch (error) {
      if (timedOut) await this.#abandon(page, work);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the pool if this renderer created it. */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.close();
  }

  /**
   * The render under the egress rules: scripts off unless the job or template turned them on (pages
   * serve every tenant, so each render states what it needs), and the first blocked request that must
   * fail the job fails it at once, naming the URL.
   */
  async #renderOn(
    page: Page,
    content: PageContent,
    output: OutputOptions,
    options: PageOptions,
    remaining: () => number,
  ): Promise<{ bytes: Uint8Array; document?: RenderedDocument }> {
    await Promise.all([
      setScriptsEnabled(page, options.javascript === true),
      setMediaType(page, options.emulateMedia),
    ]);
    const ignoreBlocked = options.blockedRequests === "ignore";
    const live = "live" in content ? content.live : undefined;
    const egress = this.#pool.egress.begin(page, {
      allowHosts: options.allowHosts ?? [],
      ignoreBlocked,
      ...(live ? { live } : {}),
    });
    const mustFail = () => egress.blocked.some((b) => b.navigation || !ignoreBlocked);
    try {
      const capture = this.#capture(page, content, output, options, remaining, egress.blocked);
      // A capture overtaken by a blocked request fails with its page, which the pool then closes.
      capture.catch(() => undefined);
      const bytes = await Promise.race([
        capture,
        egress.failed.then(() => Promise.reject(egressBlockedError(egress.blocked))),
      ]).catch((error: unknown) => {
        // A blocked navigation also makes the navigation itself fail: the egress rules say why.
        throw mustFail() ? egressBlockedError(egress.blocked) : error;
      });
      if (mustFail()) throw egressBlockedError(egress.blocked);
      return { bytes, ...(live ? { document: egress.document() } : {}) };
    } finally {
      egress.end();
      // A page that cannot be cleared is closed: the pool then opens a fresh one.
      if (live) await clearPageStorage(page, egress.origins).catch(() => page.close().catch(() => undefined));
    }
  }

  async #capture(
    page: Page,
    content: PageContent,
    output: OutputOptions,
    options: PageOptions,
    remaining: () => number,
    blocked: readonly BlockedRequest[],
  ): Promise<Uint8Array> {
    markOnce(STARTUP_MARKS.firstRenderStart);
    // The pool prepared the page (dialogs, media, timezone) and sized it.
    const session = await captureSession(page);
    const resources = watchResources(page);
    let transparent = false;
    // Until the settle step has seen it, the document is one the page must be navigated away from.
    noteDocument(page, false);
    try {
      if ("html" in content) {
        // Into the blank document's realm before the content: setContent keeps the realm.
        if (options.clock) await page.evaluate(clockScript(options.clock));
        await page.setContent(content.html, { waitUntil: "load", timeout: remaining() });
      } else {
        await loadLivePage(page, content.live.url, options.clock, remaining());
      }
      await waitForReady(page, options, remaining());
      const settled = (await page.evaluate(
        settleScript(DETERMINISM_CSS, DETERMINISM_MARKER),
      )) as SettledDocument;
      // No script ran in the document and none can now: what it leaves in the page is known.
      noteDocument(
        page,
        "html" in content &&
          options.javascript !== true &&
          options.clock === undefined &&
          !settled.lastingMeta,
      );
      // Left out on purpose ("blockedRequests": "ignore"), so not a resource that failed.
      const dropped = new Set(blocked.map((b) => b.url));
      const unsettled = settled.unsettled.filter(
        (r) => r.urls.length === 0 || !r.urls.every((u) => dropped.has(displayUrl(u))),
      );
      assertSettled(
        unsettled,
        this.#allowFontErrors ? { ...options, resourceErrors: "ignore" } : options,
        resources.reason,
      );

      let bytes: Uint8Array;
      if (output.format === "pdf") {
        // Sent directly: page.pdf() would stream the file back in chunks and wait for fonts again.
        const { data } = await session.send("Page.printToPDF", pdfParams(output, this.#defaultPaper));
        bytes = normalizePdf(Buffer.from(data, "base64"));
        assertPageCount(bytes);
      } else {
        if (output.transparent) {
          transparent = true;
          await transparentBackground(session);
        }
        const params = await screenshotParams(page, session, output);
        const { data } = await session.send("Page.captureScreenshot", {
          ...params,
          ...(this.#fastEncoding ? { optimizeForSpeed: true } : {}),
        });
        bytes = Buffer.from(data, "base64");
      }
      markOnce(STARTUP_MARKS.firstRenderEnd);
      return bytes;
    } finally {
      resources.stop();
      // The page serves other renders next: give it its opaque default back.
      if (transparent) await opaqueBackground(session).catch(() => undefined);
    }
  }

  /**
   * After a timeout: a page that still answers is only waiting (say, on a resource that never
   * arrives), so closing it is enough. One that does not answer is running a script that blocks the
   * whole single-process browser, so the browser is killed and the next render gets a new one.
   */
  async #abandon(page: Page | undefined, work: Promise<unknown>): Promise<void> {
    work.catch(() => undefined);
    // No page yet (launch or page creation was slow), or the template already closed it.
    if (!page || page.isClosed()) return;
    const browser: Browser = page.browser();
    const responsive = await withDeadline(page.evaluate("1"), PROBE_DEADLINE_MS).then(
      () => true,
      () => false,
    );
    if (responsive) await withDeadline(page.close(), PROBE_DEADLINE_MS).catch(() => undefined);
    else await this.#pool.discard(browser);
    // Let the abandoned work see its page go and hand the page back to the pool before we report.
    await withDeadline(work, UNWIND_DEADLINE_MS).catch(() => undefined);
  }
}

/**
 * Navigates to a live page and waits for its load. A clock is installed in every new document of
 * the navigation, before the page's own scripts. A page that answers an HTTP error fails the job:
 * for good on a 4xx, for a retry otherwise.
 */
async function loadLivePage(page: Page, url: string, clock: string | undefined, timeoutMs: number) {
  const script = clock ? await page.evaluateOnNewDocument(clockScript(clock)) : undefined;
  try {
    const response = await page.goto(url, { waitUntil: "load", timeout: timeoutMs });
    const status = response?.status() ?? 200;
    if (status >= 400) {
      const message = `The page ${displayUrl(response?.url() ?? url)} answered HTTP ${status}.`;
      if (status < 500) throw new PermanentRenderError(PAGE_ERROR_CODE, message);
      throw new KilnError("transient", PAGE_ERROR_CODE, message);
    }
  } finally {
    if (script) await page.removeScriptToEvaluateOnNewDocument(script.identifier).catch(() => undefined);
  }
}

/** The job's failure for the requests the egress rules blocked, naming their URLs (without queries). */
function egressBlockedError(blocked: readonly BlockedRequest[]): PermanentRenderError {
  const shown = [...new Map(blocked.map((b) => [b.url, b])).values()];
  const list = shown
    .slice(0, 5)
    .map((b) => `${b.url} (${b.reason})`)
    .join("; ");
  const more = shown.length > 5 ? ` and ${shown.length - 5} more` : "";
  const hint = blocked.some((b) => b.navigation)
    ? "A template may not navigate its page, a URL job's page only to allowed hosts, and neither may open windows."
    : 'Allow https hosts with egress.allowHosts (PUT /v1/settings), or send "blockedRequests": "ignore" to render without them.';
  return new PermanentRenderError(
    EGRESS_BLOCKED,
    `Kiln blocked requests of the page: ${list}${more}. ${hint}`,
  );
}

/**
 * Separates what retrying cannot fix (the template closed its own window, asked for an impossible
 * print) from everything else: crashes, protocol hiccups and timeouts stay ordinary errors.
 */
async function classify(error: unknown, page: Page): Promise<unknown> {
  if (!(error instanceof Error) || isPermanent(error)) return error;
  const rejected = PERMANENT_PROTOCOL_MESSAGES.find((m) => error.message.includes(m));
  if (rejected) {
    return new PermanentRenderError(RENDER_ERROR_CODE, `Chromium rejected the document: ${rejected}.`);
  }
  const pageGone = page.isClosed() || /frame was detached|target closed|session closed/i.test(error.message);
  // A crash also takes the page away; only a browser that still answers proves the template did it.
  if (pageGone && (await answers(page.browser()))) {
    return new PermanentRenderError(
      RENDER_ERROR_CODE,
      "The template closed its own window (window.close()) before the render finished.",
    );
  }
  return error;
}

async function answers(browser: Browser): Promise<boolean> {
  if (!browser.connected) return false;
  return withDeadline(browser.version(), PROBE_DEADLINE_MS).then(
    () => browser.connected,
    () => false,
  );
}
