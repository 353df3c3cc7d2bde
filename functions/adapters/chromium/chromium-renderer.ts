import type { Browser, Page, PaperFormat, ScreenshotOptions } from "puppeteer-core";
import { PermanentRenderError } from "../../core/errors.js";
import { normalizePdf } from "../../core/pdf-determinism.js";
import type { Renderer } from "../../core/ports.js";
import type { OutputOptions } from "../../core/render-request.js";
import { BrowserPool } from "./browser-pool.js";
import { withDeadline } from "./deadline.js";

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
   * Render anyway when a web font declared by the template fails to load. By default the render
   * fails (retryably): Chromium would silently substitute a fallback font.
   * @default false
   */
  readonly allowFontErrors?: boolean;
}

/** The render took longer than its budget. Retryable: the worker may try again. */
export class RenderTimeoutError extends Error {
  readonly code = "render_timeout";
  constructor(readonly timeoutMs: number) {
    super(
      `The render did not finish within ${timeoutMs} ms: the page kept loading (a resource that ` +
        "never answers) or a script kept it busy.",
    );
  }
}

/** Code of the PermanentRenderError raised when Chromium rejects the template itself. */
export const RENDER_ERROR_CODE = "render_error";

/** Stops motion and the caret so a screenshot taken at any moment shows the same pixels. */
const DETERMINISM_CSS = `*, *::before, *::after {
  animation: none !important;
  transition: none !important;
  caret-color: transparent !important;
}`;

/** How long an unresponsive page gets to answer a trivial evaluation after a timeout. */
const PROBE_DEADLINE_MS = 1_000;
/** How long the abandoned work of a timed-out render gets to unwind once its page is gone. */
const UNWIND_DEADLINE_MS = 5_000;

/**
 * Page.printToPDF results that no retry can change (Chromium's print_to_pdf result strings), matched
 * on the message because puppeteer exposes no codes. "Printing failed" is deliberately absent: it
 * also covers transient failures. Kiln sends no page ranges today; these guard a future option.
 */
const PERMANENT_PROTOCOL_MESSAGES = [
  "Page range syntax error",
  "Page range is invalid",
  "Page range exceeds page count",
];

/**
 * Renders HTML to PNG, JPEG, WebP or PDF in a fresh page of the pool's warm browser. Identical
 * input gives identical bytes: fixed viewport and scale, no motion, UTC, fonts and images settled
 * before capture, and PDF timestamps and ids normalised.
 */
export class ChromiumRenderer implements Renderer {
  readonly #pool: BrowserPool;
  readonly #ownsPool: boolean;
  readonly #timeoutMs: number;
  readonly #pdfFormat: PaperFormat;
  readonly #allowFontErrors: boolean;

  constructor(options: ChromiumRendererOptions = {}) {
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new BrowserPool();
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#pdfFormat = options.pdfFormat ?? "A4";
    this.#allowFontErrors = options.allowFontErrors ?? false;
  }

  get pool(): BrowserPool {
    return this.#pool;
  }

  async render(html: string, output: OutputOptions): Promise<Uint8Array> {
    const started = Date.now();
    const remaining = () => Math.max(1, this.#timeoutMs - (Date.now() - started));
    let timedOut = false;
    let page: Page | undefined;

    const work = this.#pool.withPage(async (p) => {
      page = p;
      // Launch or page creation ate the whole budget; the caller has already been told.
      if (timedOut) throw new RenderTimeoutError(this.#timeoutMs);
      try {
        return await this.#renderOn(p, html, output, remaining);
      } catch (error) {
        // Classified here, while the pool has not yet closed the page: a page closed now was
        // closed by the template or a crash.
        throw timedOut ? error : await classify(error, p);
      }
    });

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new RenderTimeoutError(this.#timeoutMs));
      }, this.#timeoutMs);
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

  async #renderOn(
    page: Page,
    html: string,
    output: OutputOptions,
    remaining: () => number,
  ): Promise<Uint8Array> {
    // alert()/confirm()/prompt() would block the page, and with it every page of a single-process browser.
    page.on("dialog", (dialog) => {
      void dialog.dismiss().catch(() => undefined);
    });
    await Promise.all([
      page.setViewport({ width: output.width, height: output.height, deviceScaleFactor: output.scale }),
      page.emulateMediaFeatures([
        { name: "prefers-reduced-motion", value: "reduce" },
        { name: "prefers-color-scheme", value: "light" },
      ]),
      // Lambda runs in UTC; a developer machine should render dates the same way.
      page.emulateTimezone("UTC"),
    ]);

    await page.setContent(html, { waitUntil: "load", timeout: remaining() });

    const failedFonts = (await page.evaluate(SETTLE_SCRIPT)) as string[];
    if (failedFonts.length > 0 && !this.#allowFontErrors) {
      throw new Error(`Web fonts failed to load: ${failedFonts.join(", ")}.`);
    }

    if (output.format === "pdf") {
      const pdf = await page.pdf({
        printBackground: true,
        preferCSSPageSize: true,
        format: this.#pdfFormat,
        timeout: remaining(),
      });
      return normalizePdf(pdf);
    }
    const options: ScreenshotOptions = {
      type: output.format,
      fullPage: false,
      captureBeyondViewport: false,
    };
    if (output.quality !== undefined) options.quality = output.quality;
    return page.screenshot(options);
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
 * Runs in the page: applies the determinism CSS, scrolls back to the origin (autofocus or a fragment
 * can scroll the page, and capture starts at the viewport), then waits until every image is decoded
 * (lazy ones loaded eagerly, as capture needs them all) and every web font has settled. Resolves to
 * the families of font faces that failed, since `document.fonts.ready` resolves regardless.
 * Kept as source text so no bundler or test transform can inject helpers into code that runs in the
 * page. A constructed sheet is not subject to the template's CSP, unlike an injected <style>; a
 * broken image renders as broken in any browser, so it is not a reason to fail.
 */
const SETTLE_SCRIPT = `(async (css) => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  window.scrollTo(0, 0);
  const images = Array.from(document.images);
  for (const img of images) if (img.loading === "lazy") img.loading = "eager";
  await Promise.all(images.map((img) => img.decode().catch(() => undefined)));
  await document.fonts.ready;
  const failed = [];
  document.fonts.forEach((face) => {
    if (face.status === "error" && !failed.includes(face.family)) failed.push(face.family);
  });
  return failed;
})(${JSON.stringify(DETERMINISM_CSS)})`;

/**
 * Separates what retrying cannot fix (the template closed its own window, asked for an impossible
 * print) from everything else: crashes, protocol hiccups and timeouts stay ordinary errors.
 */
async function classify(error: unknown, page: Page): Promise<unknown> {
  if (!(error instanceof Error) || error instanceof PermanentRenderError) return error;
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
