import type { CDPSession, Page } from "puppeteer-core";
import { withDeadline } from "./deadline.js";
import type { EgressGuard } from "./egress-guard.js";

const sessions = new WeakMap<Page, Promise<CDPSession>>();

/**
 * A second DevTools session on the page, for captures: page.screenshot() takes a lock shared by
 * every page of the browser, so concurrent renders would capture one at a time.
 */
export function captureSession(page: Page): Promise<CDPSession> {
  let session = sessions.get(page);
  if (!session) {
    session = page.createCDPSession();
    sessions.set(page, session);
    // A failed attach is retried by the next caller rather than remembered.
    session.catch(() => sessions.delete(page));
  }
  return session;
}

/** A custom property only the determinism sheet declares: how the settle step recognises it. */
export const DETERMINISM_MARKER = "--kiln-determinism";

/** Stops motion and the caret so a screenshot taken at any moment shows the same pixels. */
export const DETERMINISM_CSS = `*, *::before, *::after {
  animation: none !important;
  transition: none !important;
  caret-color: transparent !important;
}
:root { ${DETERMINISM_MARKER}: 1; }`;

/**
 * Run on the blank document a render's content is then written into. `window.name` is the one piece
 * of the browsing context a navigation keeps, so it is cleared. The determinism sheet is adopted
 * now because writing the content keeps the document and its adopted sheets: the content's first
 * style pass already includes it, instead of a second full pass after load. It is a constructed
 * sheet, so the template's CSP does not apply to it, unlike an injected <style>.
 */
const BLANK_SCRIPT = `(() => {
  window.name = "";
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(${JSON.stringify(DETERMINISM_CSS)});
  document.adoptedStyleSheets = [sheet];
})()`;

/**
 * Once per page, before its first render: what every render needs and no template can change.
 * Emulation settings belong to the page, so they survive the navigations that reset it.
 */
export async function preparePage(page: Page, guard?: EgressGuard): Promise<void> {
  // alert()/confirm()/prompt() would block the page, and with it every page of a single-process browser.
  page.on("dialog", (dialog) => {
    void dialog.dismiss().catch(() => undefined);
  });
  await Promise.all([
    setMediaType(page, undefined),
    // Lambda runs in UTC; a developer machine should render dates the same way.
    page.emulateTimezone("UTC"),
    captureSession(page),
    page.evaluate(BLANK_SCRIPT),
    guard?.install(page),
  ]);
}

export interface PageViewport {
  readonly width: number;
  readonly height: number;
  readonly deviceScaleFactor: number;
}

/**
 * Sizes the page as page.setViewport() would, but on the capture session: Chromium scales a
 * screenshot by the device metrics of the session that asks for it, so both must be the same.
 */
export async function applyViewport(page: Page, viewport: PageViewport): Promise<void> {
  const session = await captureSession(page);
  await session.send("Emulation.setDeviceMetricsOverride", {
    mobile: false,
    width: viewport.width,
    height: viewport.height,
    deviceScaleFactor: viewport.deviceScaleFactor,
    screenOrientation: { angle: 0, type: "portraitPrimary" },
  });
}

const scriptSettings = new WeakMap<Page, boolean>();

/**
 * Turns the template's JavaScript on or off for the next render. The setting belongs to the page and
 * survives the resets between renders, so it is sent only when a render needs the other value.
 */
export async function setScriptsEnabled(page: Page, enabled: boolean): Promise<void> {
  if (scriptSettings.get(page) === enabled) return;
  // Unknown until Chromium confirms: a failed call is sent again by the next render.
  scriptSettings.delete(page);
  await page.setJavaScriptEnabled(enabled);
  scriptSettings.set(page, enabled);
}

/** What every render is emulated with, whatever its media type. */
const MEDIA_FEATURES = [
  { name: "prefers-reduced-motion", value: "reduce" },
  { name: "prefers-color-scheme", value: "light" },
];

const mediaTypes = new WeakMap<Page, string>();

/**
 * The CSS media type of the next render ("" or undefined: Chromium's own, print for PDFs). Sent with
 * the media features in one call on the capture session: each call replaces both. Like scripts, the
 * setting belongs to the page and is sent only when a render needs another one.
 */
export async function setMediaType(page: Page, type: "screen" | "print" | undefined): Promise<void> {
  const media = type ?? "";
  if (mediaTypes.get(page) === media) return;
  mediaTypes.delete(page);
  const session = await captureSession(page);
  await session.send("Emulation.setEmulatedMedia", { media, features: MEDIA_FEATURES });
  mediaTypes.set(page, media);
}

/**
 * After a live page's render: what the page may have stored (cookies set by its scripts, local
 * storage, caches, service workers) is cleared for every origin it fetched from, so the next render,
 * perhaps of another tenant, finds none of it.
 */
export async function clearPageStorage(page: Page, origins: Iterable<string>): Promise<void> {
  const session = await captureSession(page);
  await Promise.all([
    session.send("Network.clearBrowserCookies"),
    ...[...origins].map((origin) =>
      session.send("Storage.clearDataForOrigin", { origin, storageTypes: "all" }),
    ),
  ]);
}

const RESET_DEADLINE_MS = 5_000;

/**
 * Pages whose current document was written and settled with scripts off, no clock, no navigation
 * and no meta element whose effect lasts: nothing ran in its JavaScript realm but Kiln's blank
 * script, and nothing it declared outlives it.
 */
const scriptFreeDocuments = new WeakSet<Page>();

/**
 * Whether the page's current document is such a one; decides how `resetPage` readies the page
 * afterwards. A render says false before it writes its content, and true once the settle step has
 * found the document so.
 */
export function noteDocument(page: Page, scriptFree: boolean): void {
  if (scriptFree) scriptFreeDocuments.add(page);
  else scriptFreeDocuments.delete(page);
}

/**
 * Readies a used page for the next render, which may belong to another tenant. Returns false when
 * the page could not be reset; it must then be closed.
 *
 * After a document that could run script, the page is navigated to about:blank: that discards the
 * document and its JavaScript realm (globals, timers, listeners, workers, Kiln's clock); the blank
 * script then clears `window.name`. Storage is out of reach: documents written into about:blank have
 * an opaque origin.
 *
 * Without script, a document can leave behind only what HTML does by itself. Its meta elements
 * (a refresh, a Content-Security-Policy) stay with the page's document through the next render's
 * `document.open()`, so a document with any of them is navigated away from too. What is left are
 * fetches still under way (a slow image, a media element buffering): Page.stopLoading cancels them,
 * and the next render's content replaces the document. That costs Chromium a fraction of the
 * navigation (≈ 19 ms of CPU per render for the invoice PDF).
 */
export async function resetPage(page: Page): Promise<boolean> {
  if (page.isClosed()) return false;
  try {
    if (scriptFreeDocuments.has(page)) {
      const session = await captureSession(page);
      await withDeadline(session.send("Page.stopLoading"), RESET_DEADLINE_MS);
    } else {
      await page.goto("about:blank", { waitUntil: "load", timeout: RESET_DEADLINE_MS });
      await withDeadline(page.evaluate(BLANK_SCRIPT), RESET_DEADLINE_MS);
    }
    return page.url() === "about:blank" && !page.isClosed();
  } catch {
    return false;
  }
}
