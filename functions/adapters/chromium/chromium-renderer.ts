import type { Browser, Page, PaperFormat, Protocol } from "puppeteer-core";
import { PermanentRenderError } from "../../core/errors.js";
import { normalizePdf } from "../../core/pdf-determinism.js";
import type { Renderer } from "../../core/ports.js";
import type { OutputOptions } from "../../core/render-request.js";
import { BrowserPool } from "./browser-pool.js";
import { withDeadline } from "./deadline.js";
import { captureSession, DETERMINISM_CSS, DETERMINISM_MARKER } from "./page-setup.js";
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
   * Render anyway when a web font declared by the template fails to load. By default the render
   * fails (retryably): Chromium would silently substitute a fallback font.
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

/** Paper sizes in inches, as puppeteer defines them for page.pdf({ format }). */
const PAPER_INCHES: Readonly<Record<Lowercase<PaperFormat>, { width: number; height: number }>> = {
  letter: { width: 8.5, height: 11 },
  legal: { width: 8.5, height: 14 },
  tabloid: { width: 11, height: 17 },
  ledger: { width: 17, height: 11 },
  a0: { width: 33.1102, height: 46.811 },
  a1: { width: 23.3858, height: 33.1102 },
  a2: { width: 16.5354, height: 23.3858 },
  a3: { width: 11.6929, height: 16.5354 },
  a4: { width: 8.2677, height: 11.6929 },
  a5: { width: 5.8268, height: 8.2677 },
  a6: { width: 4.1339, height: 5.8268 },
};

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
 * Renders HTML to PNG, JPEG, WebP or PDF in a page of the pool's warm browser. Identical
 * input gives identical bytes: fixed viewport and scale, no motion, UTC, fonts and images settled
 * before capture, and PDF timestamps and ids normalised.
 */
export class ChromiumRenderer implements Renderer {
  readonly #pool: BrowserPool;
  readonly #ownsPool: boolean;
  readonly #timeoutMs: number;
  readonly #pdfFormat: PaperFormat;
  readonly #allowFontErrors: boolean;
  readonly #fastEncoding: boolean;

  constructor(options: ChromiumRendererOptions = {}) {
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new BrowserPool();
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#pdfFormat = options.pdfFormat ?? "A4";
    this.#allowFontErrors = options.allowFontErrors ?? false;
    this.#fastEncoding = options.fastEncoding ?? false;
  }

  get pool(): BrowserPool {
    return this.#pool;
  }

  async render(html: string, output: OutputOptions): Promise<Uint8Array> {
    const started = Date.now();
    const remaining = () => Math.max(1, this.#timeoutMs - (Date.now() - started));
    let timedOut = false;
    let page: Page | undefined;

    const work = this.#pool.withPage(
      async (p) => {
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
      },
      { width: output.width, height: output.height, deviceScaleFactor: output.scale },
    );

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
    markOnce(STARTUP_MARKS.firstRenderStart);
    // The pool prepared the page (dialogs, media, timezone) and sized it.
    await page.setContent(html, { waitUntil: "load", timeout: remaining() });

    const failedFonts = (await page.evaluate(SETTLE_SCRIPT)) as string[];
    if (failedFonts.length > 0 && !this.#allowFontErrors) {
      throw new Error(`Web fonts failed to load: ${failedFonts.join(", ")}.`);
    }

    const session = await captureSession(page);
    let bytes: Uint8Array;
    if (output.format === "pdf") {
      // Sent directly: page.pdf() would stream the file back in chunks and wait for fonts again.
      const { data } = await session.send("Page.printToPDF", this.#pdfParams());
      bytes = normalizePdf(Buffer.from(data, "base64"));
    } else {
      const params: Protocol.Page.CaptureScreenshotRequest = {
        format: output.format,
        captureBeyondViewport: false,
        ...(this.#fastEncoding ? { optimizeForSpeed: true } : {}),
        ...(output.quality !== undefined ? { quality: output.quality } : {}),
      };
      const { data } = await session.send("Page.captureScreenshot", params);
      bytes = Buffer.from(data, "base64");
    }
    markOnce(STARTUP_MARKS.firstRenderEnd);
    return bytes;
  }

  /** What page.pdf() would send for Kiln's options: no margins, backgrounds, tagged, CSS page size first. */
  #pdfParams(): Protocol.Page.PrintToPDFRequest {
    const paper = PAPER_INCHES[this.#pdfFormat.toLowerCase() as Lowercase<PaperFormat>];
    return {
      transferMode: "ReturnAsBase64",
      printBackground: true,
      preferCSSPageSize: true,
      paperWidth: paper.width,
      paperHeight: paper.height,
      marginTop: 0,
      marginBottom: 0,
      marginLeft: 0,
      marginRight: 0,
      scale: 1,
      landscape: false,
      displayHeaderFooter: false,
      headerTemplate: "",
      footerTemplate: "",
      pageRanges: "",
      generateTaggedPDF: true,
      generateDocumentOutline: false,
    };
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
 * Runs in the page: makes sure the determinism CSS is adopted (the pool adopts it before the content
 * is written, so the first style pass already has it; a template may have dropped it), scrolls back to
 * the origin (autofocus or a fragment can scroll the page, and capture starts at the viewport), then
 * waits until every image is decoded (lazy ones loaded eagerly, as capture needs them all) and every
 * web font has settled. Resolves to the families of font faces that failed, since
 * `document.fonts.ready` resolves regardless. Kept as source text so no bundler or test transform can
 * inject helpers into code that runs in the page. A broken image renders as broken in any browser, so
 * it is not a reason to fail.
 */
const SETTLE_SCRIPT = `(async (css, marker) => {
  const adopted = document.adoptedStyleSheets.some((sheet) =>
    Array.from(sheet.cssRules).some((rule) => rule.cssText.includes(marker)),
  );
  if (!adopted) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  }
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
})(${JSON.stringify(DETERMINISM_CSS)}, ${JSON.stringify(DETERMINISM_MARKER)})`;

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
