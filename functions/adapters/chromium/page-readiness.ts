import type { CDPSession, HTTPRequest, HTTPResponse, Page, Protocol } from "puppeteer-core";
import { KilnError, PermanentRenderError } from "../../core/errors.js";
import { OUTPUT_LIMITS, type OutputOptions, type PageOptions, pdfLayout } from "../../core/output-options.js";
import { pdfPageCount } from "./pdf-info.js";

/**
 * What happens to a page between "the HTML is in" and "capture": the clock, readiness (fonts, images,
 * an optional wait), and the capture parameters for the output options. Kept apart from the renderer
 * so that each step can name what went wrong.
 */

/** Failure codes of the job, for things no retry can change. */
export const READINESS_CODES = {
  /** A font or image failed to load (and the job did not opt out with resourceErrors: "ignore"). */
  resourceFailed: "resource_failed",
  /** waitFor did not come true in time. */
  waitTimeout: "wait_timeout",
  /** Capture would exceed the pixel or page limits. */
  outputTooLarge: "output_too_large",
  /** The output's selector matches nothing. */
  selectorMissing: "selector_not_found",
} as const;

/** A URL as it may appear in an error: no query, so no signature is ever echoed. */
export function displayUrl(url: string): string {
  if (url.startsWith("data:")) return `${url.slice(0, 40)}…`;
  return url.split(/[?#]/, 1)[0] ?? url;
}

/**
 * Listens for fonts, images and style sheets that fail on the network or answer an HTTP error, while a
 * render runs; `stop()` removes the listeners (the page outlives the render).
 */
export function watchResources(page: Page) {
  const failures = new Map<string, string>();
  const watched = new Set(["image", "font", "stylesheet"]);
  const onFailed = (request: HTTPRequest) => {
    if (watched.has(request.resourceType())) {
      failures.set(displayUrl(request.url()), request.failure()?.errorText ?? "failed");
    }
  };
  const onResponse = (response: HTTPResponse) => {
    const status = response.status();
    if (status >= 400 && watched.has(response.request().resourceType())) {
      failures.set(displayUrl(response.url()), `HTTP ${status}`);
    }
  };
  page.on("requestfailed", onFailed);
  page.on("response", onResponse);
  return {
    reason: (url: string) => failures.get(displayUrl(url)),
    stop() {
      page.off("requestfailed", onFailed);
      page.off("response", onResponse);
    },
  };
}

/**
 * Freezes `Date` in the page at `iso`: `new Date()`, `Date()` and `Date.now()` report that instant.
 * Installed in the current document's realm before the content is written into it (setContent keeps
 * the realm), so the template's own scripts see it from their first line.
 */
export function clockScript(iso: string): string {
  const ms = Date.parse(iso);
  return `(() => {
  const frozen = ${ms};
  const Real = Date;
  function KilnDate(...args) {
    if (!new.target) return new Real(frozen).toString();
    return args.length === 0 ? new Real(frozen) : new Real(...args);
  }
  KilnDate.prototype = Real.prototype;
  KilnDate.now = () => frozen;
  KilnDate.parse = Real.parse;
  KilnDate.UTC = Real.UTC;
  Object.defineProperty(Real.prototype, "constructor", { value: KilnDate, configurable: true, writable: true });
  globalThis.Date = KilnDate;
})()`;
}

/** What the settle step found in the document. */
export interface SettledDocument {
  readonly unsettled: UnsettledResource[];
  /**
   * The document has a `<meta http-equiv>` (a refresh, a Content-Security-Policy, …) or a `<meta
   * name>` other than the descriptive ones: their effect can outlive the document in its page.
   */
  readonly lastingMeta: boolean;
}

export interface UnsettledResource {
  readonly kind: "font" | "image";
  /** The font family, or the image's alt text. */
  readonly name: string;
  readonly urls: readonly string[];
}

/**
 * Runs in the page after load (and after any waitFor): makes sure the determinism CSS is adopted (the
 * pool adopts it before the content is written; a template may have dropped it), scrolls to the
 * origin, waits until every image is decoded (lazy ones loaded eagerly) and every font face settled,
 * then reports the images and font faces that failed, with the URLs they came from, and whether the
 * document has meta elements whose effect outlives it. Kept as source text so no bundler can inject
 * helpers into code that runs in the page.
 */
export function settleScript(css: string, marker: string): string {
  return `(async (css, marker) => {
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
  for (const img of images) {
    const src = img.currentSrc || img.src;
    if (src && img.complete && img.naturalWidth === 0) failed.push({ kind: "image", name: img.alt || "", urls: [src] });
  }
  const sources = new Map();
  const collect = (rules) => {
    for (const rule of rules) {
      if (rule instanceof CSSFontFaceRule) {
        const family = rule.style.getPropertyValue("font-family").replace(/^["']|["']$/g, "");
        const urls = [...rule.style.getPropertyValue("src").matchAll(/url\\(\\s*["']?([^"')]+)["']?\\s*\\)/g)].map((m) => new URL(m[1], document.baseURI).href);
        sources.set(family, [...(sources.get(family) || []), ...urls]);
      } else if (rule.cssRules) {
        collect(rule.cssRules);
      }
    }
  };
  for (const s of [...document.styleSheets, ...document.adoptedStyleSheets]) {
    try { collect(s.cssRules); } catch {}
  }
  const seen = new Set();
  // Iterated, not forEach: with the template's JavaScript off, Chromium refuses callbacks into the DOM.
  for (const face of document.fonts) {
    const family = face.family.replace(/^["']|["']$/g, "");
    if (face.status === "error" && !seen.has(family)) {
      seen.add(family);
      failed.push({ kind: "font", name: family, urls: sources.get(family) || [] });
    }
  }
  const descriptive = ["author", "description", "generator", "keywords"];
  const lastingMeta = Array.from(document.querySelectorAll("meta")).some((meta) =>
    meta.hasAttribute("http-equiv") || (meta.hasAttribute("name") && !descriptive.includes(meta.name.trim().toLowerCase())),
  );
  return { unsettled: failed, lastingMeta };
})(${JSON.stringify(css)}, ${JSON.stringify(marker)})`;
}

/**
 * Fails the render with every unsettled resource named by URL (never with its query, so no signature is
 * echoed), unless the job opted out. When every failed URL answered a 4xx the failure is permanent;
 * otherwise it may be the network, and the render is retried.
 */
export function assertSettled(
  unsettled: readonly UnsettledResource[],
  options: PageOptions,
  reason: (url: string) => string | undefined,
): void {
  if (unsettled.length === 0 || options.resourceErrors === "ignore") return;
  const reasons: Array<string | undefined> = [];
  const describe = (r: UnsettledResource) => {
    const urls = r.urls.map((u) => {
      const why = reason(u);
      reasons.push(why);
      return `${displayUrl(u)}${why ? ` (${why})` : ""}`;
    });
    if (urls.length === 0) reasons.push(undefined);
    const from = urls.length > 0 ? ` from ${urls.join(", ")}` : "";
    return r.kind === "font" ? `${r.name}${from}` : `${r.name ? `"${r.name}"` : "image"}${from}`;
  };
  const fonts = unsettled.filter((r) => r.kind === "font").map(describe);
  const images = unsettled.filter((r) => r.kind === "image").map(describe);
  const message = [
    fonts.length > 0 ? `Web fonts failed to load: ${fonts.join("; ")}.` : "",
    images.length > 0 ? `Images failed to load: ${images.join("; ")}.` : "",
    'Fix the URL or the asset, or send "resourceErrors": "ignore" to render without them.',
  ]
    .filter(Boolean)
    .join(" ");
  if (reasons.every((why) => why !== undefined && /^HTTP 4\d\d$/.test(why))) {
    throw new PermanentRenderError(READINESS_CODES.resourceFailed, message);
  }
  // A network error or a 5xx may pass: worth a retry.
  throw new KilnError("transient", READINESS_CODES.resourceFailed, message);
}

/** Waits for the job's selector or expression, failing the job when it does not come true in time. */
export async function waitForReady(page: Page, options: PageOptions, budgetMs = Infinity): Promise<void> {
  const wait = options.waitFor;
  if (!wait) return;
  // Never past the render's own budget: that one is a (retryable) render timeout.
  const timeout = Math.max(1, Math.min(wait.timeoutMs, budgetMs));
  try {
    if (wait.selector !== undefined) await page.waitForSelector(wait.selector, { timeout });
    else await page.waitForFunction(wait.expression as string, { timeout, polling: 50 });
  } catch (error) {
    if (isScriptError(error)) {
      throw new PermanentRenderError(
        "render_error",
        `waitFor: ${wait.selector !== undefined ? "the selector" : "the expression"} is not valid: ${(error as Error).message.split("\n", 1)[0]}`,
      );
    }
    if ((error as Error).name !== "TimeoutError") throw error;
    const what =
      wait.selector !== undefined
        ? `selector ${JSON.stringify(wait.selector)} matched nothing`
        : `expression ${JSON.stringify(wait.expression)} was not true`;
    throw new PermanentRenderError(
      READINESS_CODES.waitTimeout,
      `waitFor: ${what} within ${wait.timeoutMs} ms.`,
    );
  }
}

/** Screenshot parameters for the output options: the viewport, the whole page, a rectangle or an element. */
export async function screenshotParams(
  page: Page,
  session: CDPSession,
  output: OutputOptions,
): Promise<Protocol.Page.CaptureScreenshotRequest> {
  const base: Protocol.Page.CaptureScreenshotRequest = {
    format: output.format === "pdf" ? "png" : output.format,
    captureBeyondViewport: false,
    ...(output.quality !== undefined ? { quality: output.quality } : {}),
  };
  let clip: Protocol.Page.Viewport | undefined;
  if (output.clip) {
    clip = { ...output.clip, scale: 1 };
  } else if (output.selector) {
    const element = await page.$(output.selector).catch((error: unknown) => {
      if (!isScriptError(error)) throw error;
      throw new PermanentRenderError(
        "render_error",
        `output.selector ${JSON.stringify(output.selector)} is not a valid CSS selector.`,
      );
    });
    const box = await element?.boundingBox();
    if (!box || box.width === 0 || box.height === 0) {
      throw new PermanentRenderError(
        READINESS_CODES.selectorMissing,
        `output.selector ${JSON.stringify(output.selector)} matches no visible element.`,
      );
    }
    clip = { x: box.x, y: box.y, width: box.width, height: box.height, scale: 1 };
  } else if (output.fullPage) {
    const metrics = await session.send("Page.getLayoutMetrics");
    const content = metrics.cssContentSize;
    clip = {
      x: 0,
      y: 0,
      width: output.width,
      height: Math.max(output.height, Math.ceil(content.height)),
      scale: 1,
    };
  }
  if (!clip) return base;
  const pixels = Math.ceil(clip.width * output.scale) * Math.ceil(clip.height * output.scale);
  if (pixels > OUTPUT_LIMITS.maxPixels) {
    throw new PermanentRenderError(
      READINESS_CODES.outputTooLarge,
      `The capture would be ${Math.ceil(clip.width * output.scale)} × ${Math.ceil(clip.height * output.scale)} pixels; at most ${OUTPUT_LIMITS.maxPixels} are allowed. Lower the scale or capture less.`,
    );
  }
  return { ...base, clip, captureBeyondViewport: true };
}

/** Page.printToPDF parameters for the output options; header and footer arrive hydrated. */
export function pdfParams(
  output: OutputOptions,
  defaultPaper?: { width: number; height: number },
): Protocol.Page.PrintToPDFRequest {
  const pdf = output.pdf;
  const headerFooter = pdf?.headerTemplate !== undefined || pdf?.footerTemplate !== undefined;
  return {
    transferMode: "ReturnAsBase64",
    printBackground: pdf?.printBackground ?? true,
    landscape: pdf?.landscape ?? false,
    ...pdfLayout(pdf, defaultPaper),
    scale: 1,
    displayHeaderFooter: headerFooter,
    // An empty template would make Chromium print its default (date, title, URL): a blank span instead.
    headerTemplate: headerFooter ? (pdf?.headerTemplate ?? "<span></span>") : "",
    footerTemplate: headerFooter ? (pdf?.footerTemplate ?? "<span></span>") : "",
    pageRanges: pdf?.pageRanges ?? "",
    generateTaggedPDF: true,
    generateDocumentOutline: false,
  };
}

/** Fails the job when a PDF has more pages than allowed. */
export function assertPageCount(pdf: Uint8Array): void {
  const pages = pdfPageCount(pdf);
  if (pages > OUTPUT_LIMITS.maxPdfPages) {
    throw new PermanentRenderError(
      READINESS_CODES.outputTooLarge,
      `The PDF has ${pages} pages; at most ${OUTPUT_LIMITS.maxPdfPages} are allowed.`,
    );
  }
}

/** A transparent default background for this capture; undo with `opaqueBackground`. */
export async function transparentBackground(session: CDPSession): Promise<void> {
  await session.send("Emulation.setDefaultBackgroundColorOverride", { color: { r: 0, g: 0, b: 0, a: 0 } });
}

export async function opaqueBackground(session: CDPSession): Promise<void> {
  await session.send("Emulation.setDefaultBackgroundColorOverride", {});
}

/** The page rejected what the job gave it (a bad selector, an expression that does not parse). */
function isScriptError(error: unknown): boolean {
  const message = (error as Error)?.message ?? "";
  return /SyntaxError|is not a valid selector/.test(message);
}
