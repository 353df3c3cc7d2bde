import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdir, readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import chromium from "@sparticuz/chromium";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { PNG } from "pngjs";
import puppeteer, { type Browser, type ElementHandle, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumExecutable } from "../../functions/adapters/chromium/executable.js";
import { KilnClient } from "../../functions/client/kiln-client.js";
import { parseLocalHosts } from "../../functions/local/local-hosts.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";
import { startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";
import { readPdf } from "./helpers/pdf-text.js";

const RECEIPT_SCHEMA = {
  type: "object",
  required: ["name", "total"],
  properties: { name: { type: "string" }, total: { type: "number" } },
};
const RECEIPT_HTML =
  "<main style=\"font-family:'Open Sans';padding:40px\"><h1 style='font-size:64px;margin:0'>{{ name }}</h1>" +
  "<p style='font-size:40px'>Total {{ total }}</p></main>";
const CERTIFICATE = join(REPO_ROOT, "examples", "certificate");
const CERTIFICATE_ASSETS = join(CERTIFICATE, "assets", "certificate");
/** Screenshots of the page, to look at. */
const SHOTS = join(tmpdir(), "kiln-preview-test");

/** The live page a URL job renders: `/moved` redirects to it; it shows the cookie it was sent. */
const SHOP_PAGE = (session: string) =>
  `<!doctype html><body style="margin:0;background:#0f766e;color:#fff;font:64px 'Open Sans'">` +
  `<h1 style="margin:40px">Order 42</h1><p style="margin:40px">session ${session}</p></body>`;

let ts: TestStack;
let browser: Browser;
let certificateExample: Record<string, unknown>;
let shop: Server;
/** The headers of each request the live page's server answered. */
const shopRequests: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  shop = createServer((req, res) => {
    shopRequests.push(req.headers);
    if (req.url === "/moved") {
      res.writeHead(302, { location: "/order/42" }).end();
      return;
    }
    const session = /(?:^|; )session=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "none";
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(SHOP_PAGE(session));
  }).listen(0, "127.0.0.1");
  await once(shop, "listening");
  ts = await startTestStack({
    localHosts: parseLocalHosts(`shop.test=127.0.0.1:${(shop.address() as AddressInfo).port}`),
  });
  await ts.clientA.putSettings({ egress: { allowHosts: ["shop.test"] } });
  // Version 2 carries the schema: the listing offers the latest version, the page every version.
  await ts.clientA.createTemplate({ id: "receipt", html: "<p>{{ name }}</p>" });
  await ts.clientA.createTemplate({ id: "receipt", html: RECEIPT_HTML, schema: RECEIPT_SCHEMA });
  await ts.clientB.createTemplate({ id: "globex-letter", html: "<p>{{ name }}</p>" });
  const schema = JSON.parse(
    await readFile(join(CERTIFICATE, "templates", "certificate.schema.json"), "utf8"),
  );
  [certificateExample] = schema.examples;
  const html = await readFile(join(CERTIFICATE, "templates", "certificate.html"), "utf8");
  await ts.clientA.createTemplate({ id: "certificate", html, schema });
  await ts.clientA.createTemplate({
    id: "certificate",
    html: html.replace("Kiln Academy", "Kiln Academy · Second edition"),
    schema,
  });
  // The seal is already stored: the page picks it by key; the font and signature it uploads itself.
  await ts.clientA.putAsset(
    "certificate/seal.svg",
    await readFile(join(CERTIFICATE_ASSETS, "seal.svg")),
    "image/svg+xml",
  );
  await mkdir(SHOTS, { recursive: true });
  // The test's own browser, the same Chromium build the render pool uses, with JavaScript on.
  browser = await puppeteer.launch({
    executablePath: await chromiumExecutable(),
    args: chromium.args,
    headless: "shell",
    defaultViewport: { width: 1280, height: 820 },
    pipe: true,
  });
});

afterAll(async () => {
  await browser?.close();
  await ts?.stop();
  shop?.closeAllConnections();
  shop?.close();
});

const listTemplates = (apiKey: string) =>
  new KilnClient({ baseUrl: ts.stack.apiUrl, apiKey, retry: { attempts: 1 } }).listTemplates();

describe("GET /v1/templates", () => {
  it("lists each of the tenant's own templates once, at its latest version", async () => {
    expect(await listTemplates(TENANT_A.apiKey)).toEqual([
      expect.objectContaining({ id: "certificate", version: 2, hasSchema: true }),
      expect.objectContaining({ id: "receipt", version: 2, hasSchema: true }),
    ]);
    expect(await listTemplates(TENANT_B.apiKey)).toEqual([
      expect.objectContaining({ id: "globex-letter", version: 1, hasSchema: false }),
    ]);
  });
});

describe("the preview page", () => {
  it("is served with the first tenant's key, no caching and a CSP that allows only the edge for outputs", async () => {
    const res = await fetch(ts.stack.previewUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`img-src ${ts.stack.edgeUrl}`);
    expect(csp).not.toContain("unsafe-inline");
    expect(await res.text()).toContain(`content="${TENANT_A.apiKey}"`);
  });

  it("relays outputs from the local edge only", async () => {
    const elsewhere = new URL("/preview/output", ts.stack.apiUrl);
    elsewhere.searchParams.set("url", `${ts.stack.apiUrl}/v1/renders`);
    const refused = await fetch(elsewhere);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("url: must be a signed URL on the local edge");
    // On the edge but unsigned: the edge's own refusal comes back, not the object.
    const unsigned = new URL("/preview/output", ts.stack.apiUrl);
    unsigned.searchParams.set("url", `${ts.stack.edgeUrl}/outputs/anything.pdf`);
    expect((await fetch(unsigned)).status).toBe(403);
  });

  it("re-renders as the data is edited, and shows schema and JSON errors next to the data", async () => {
    await withPage(async (page) => {
      // The inline example renders first, through the API and the edge.
      const first = await renderedSha(page, "");
      expect(first).toMatch(/^[0-9a-f]{64}$/);

      // Every version is offered, not only the latest.
      expect(await optionLabels(page)).toEqual(
        expect.arrayContaining(["receipt @ 2 (latest, with schema)", "receipt @ 1"]),
      );
      await chooseTemplate(page, "receipt", 2);
      // Version 2 has a schema without examples and was never rendered here: its data starts empty,
      // and the schema names what is missing, instead of the inline template's data being kept.
      expect(await errorIn(page, "#data-error", "data.total")).toContain("data.total");
      expect(await page.$eval("#data", (t) => (t as HTMLTextAreaElement).value)).toBe("{}");
      expect(await page.$eval("#source", (t) => (t as HTMLTextAreaElement).value)).toBe(RECEIPT_HTML);

      await replaceText(page, "#data", '{"name": "Ada Lovelace", "total": 12.5}');
      const ada = await renderedSha(page, first);
      const adaImage = await displayedImage(page);

      await replaceText(page, "#data", '{"name": "Grace Hopper", "total": 99}');
      const grace = await renderedSha(page, ada);
      const graceImage = await displayedImage(page);
      expect(grace).not.toBe(ada);
      expect([graceImage.width, graceImage.height]).toEqual([800, 450]);
      expect([adaImage.width, adaImage.height]).toEqual([800, 450]);
      expect(Buffer.compare(adaImage.data, graceImage.data)).not.toBe(0);
      expect(await page.$eval("#download", (a) => (a as HTMLAnchorElement).href)).toBe(
        await page.$eval("#image", (img) => (img as HTMLImageElement).src),
      );
      await page.screenshot({ path: join(SHOTS, "receipt.png") });

      await replaceText(page, "#data", '{"name": "Grace Hopper", "total": "lots"}');
      const schemaError = await errorIn(page, "#data-error", "data.total");
      expect(schemaError).toMatch(/data\.total: .*number/);

      await replaceText(page, "#data", '{"name": "Grace Hopper",\n  "total": }');
      const jsonError = await errorIn(page, "#data-error", "not valid JSON");
      expect(jsonError).toContain("line 2, column 12");
      expect(await page.$eval("#data", (t) => t.getAttribute("aria-invalid"))).toBe("true");
    });
  });

  it("renders the certificate with its assets, clears a failed render, and shows the PDF page by page", async () => {
    await withPage(async (page) => {
      await renderedSha(page, "");
      await chooseTemplate(page, "certificate", 1);
      // The schema's first example is the data; the template's three assets each get a row.
      expect(JSON.parse(await page.$eval("#data", (t) => (t as HTMLTextAreaElement).value))).toEqual(
        certificateExample,
      );
      expect(
        await page.$$eval("#asset-rows input[data-asset-name]", (inputs) =>
          inputs.map((i) => (i as HTMLInputElement).dataset.assetName),
        ),
      ).toEqual(["script", "seal", "signature"]);
      expect(await errorIn(page, "#assets-error", "assets.script")).toContain(
        "assets.script: the template uses it",
      );
      expect(await page.$("#download")).toBeNull();

      await page.type("#asset-key-seal", "certificate/seal.svg");
      await upload(page, "signature", join(CERTIFICATE_ASSETS, "signature.svg"));
      await upload(page, "script", join(CERTIFICATE_ASSETS, "great-vibes-latin-400.woff2"));
      expect(await page.$eval("#asset-key-script", (i) => (i as HTMLInputElement).value)).toBe(
        "certificate/great-vibes-latin-400.woff2",
      );
      await replaceText(page, "#width", "1123");
      await replaceText(page, "#height", "794");
      const certificate = await renderedSha(page, "", { width: 1123, height: 794 });
      const png = await displayedImage(page);
      expect([png.width, png.height]).toEqual([1123, 794]);
      // Keys uploaded or rendered with are offered to pick from in every asset row.
      expect(
        await page.$$eval("#asset-keys option", (o) => o.map((x) => (x as HTMLOptionElement).value)),
      ).toEqual([
        "certificate/great-vibes-latin-400.woff2",
        "certificate/seal.svg",
        "certificate/signature.svg",
      ]);
      const shown = inkStats(await elementShot(page, "#image", "certificate.png"));
      expect(shown.inked).toBeGreaterThan(0.05);
      expect(shown.colours).toBeGreaterThan(200);
      await page.screenshot({ path: join(SHOTS, "certificate-page.png"), fullPage: true });

      // A refused render leaves no image and no download of the earlier data behind.
      await replaceText(page, "#data", JSON.stringify({ ...certificateExample, issued: "yesterday" }));
      expect(await errorIn(page, "#result-error", "data.issued")).toMatch(
        /^invalid_request: .*data\.issued: /,
      );
      expect(await errorIn(page, "#data-error", "data.issued")).toMatch(/^data\.issued: /);
      expect(
        await page.$eval("#image", (img) => [(img as HTMLImageElement).hidden, img.getAttribute("src")]),
      ).toEqual([true, null]);
      expect(await page.$("#download")).toBeNull();
      await page.screenshot({ path: join(SHOTS, "certificate-refused.png"), fullPage: true });

      await replaceText(
        page,
        "#data",
        JSON.stringify({ ...certificateExample, recipient: "Grace Hopper" }, null, 2),
      );
      const grace = await renderedSha(page, certificate);
      expect(grace).not.toBe(certificate);

      // A job that fails (an asset key with nothing stored under it) clears the result the same way.
      await replaceText(page, "#asset-key-seal", "certificate/no-such-seal.svg");
      expect(await errorIn(page, "#result-error", "asset_missing")).toContain(
        '"seal" (certificate/no-such-seal.svg)',
      );
      expect(await page.$("#download")).toBeNull();
      expect(await page.$eval("#image", (img) => (img as HTMLImageElement).hidden)).toBe(true);
      await replaceText(page, "#asset-key-seal", "certificate/seal.svg");
      expect(await renderedSha(page, "")).toBe(grace);
      expect(
        await page.$$eval("#asset-keys option", (o) => o.map((x) => (x as HTMLOptionElement).value)),
      ).not.toContain("certificate/no-such-seal.svg");

      await page.select("#format", "pdf");
      const pdfPage = inkStats(await renderedPdf(page));
      expect(pdfPage.inked).toBeGreaterThan(0.02);
      expect(pdfPage.colours).toBeGreaterThan(100);
      expect(await page.$eval("#download", (a) => a.textContent)).toMatch(/^Download PDF/);
      await page.screenshot({ path: join(SHOTS, "certificate-pdf-page.png"), fullPage: true });

      // Another template gets its own data; coming back restores what the certificate last rendered with.
      await chooseTemplate(page, "receipt", 1);
      expect(await page.$eval("#data", (t) => (t as HTMLTextAreaElement).value)).toBe("{}");
      expect(await page.$eval("#assets", (f) => (f as HTMLElement).hidden)).toBe(true);
      await chooseTemplate(page, "certificate", 1);
      expect(JSON.parse(await page.$eval("#data", (t) => (t as HTMLTextAreaElement).value))).toEqual({
        ...certificateExample,
        recipient: "Grace Hopper",
      });
      expect(await page.$eval("#asset-key-script", (i) => (i as HTMLInputElement).value)).toBe(
        "certificate/great-vibes-latin-400.woff2",
      );
      await renderedPdf(page);
      // A version not rendered yet: its schema's example, and the keys version 1 last rendered with.
      await chooseTemplate(page, "certificate", 2);
      expect(await page.$eval("#source", (t) => (t as HTMLTextAreaElement).value)).toContain(
        "Second edition",
      );
      expect(JSON.parse(await page.$eval("#data", (t) => (t as HTMLTextAreaElement).value))).toEqual(
        certificateExample,
      );
      expect(await page.$eval("#asset-key-seal", (i) => (i as HTMLInputElement).value)).toBe(
        "certificate/seal.svg",
      );
      await renderedPdf(page);
    });
  });

  it("renders a live page by URL with a header and a cookie, answered without polling, and shows the recorded document", async () => {
    await withPage(async (page) => {
      const renderCalls = watchRenderCalls(page);
      const first = await renderedSha(page, "");
      await page.select("#template", "url");
      await page.waitForFunction(() => !document.querySelector<HTMLElement>("#live-page")?.hidden);
      expect(await page.$eval("#data", (t) => (t as HTMLElement).hidden)).toBe(true);
      expect(await errorIn(page, "#source-error", "source.url")).toBe("source.url: give the page's URL");

      await fill(page, {
        "#page-url": "http://shop.test/moved",
        "#page-headers": "X-Preview: from the page",
        "#page-cookies": "session=preview-secret",
        "#width": "900",
        "#height": "400",
      });
      await page.select("#media", "print");
      const sha = await renderedSha(page, first, { width: 900, height: 400 });
      // The page's teal background under white text: not blank.
      const shown = inkStats(await elementShot(page, "#image", "live-page.png"));
      expect(shown.inked).toBeGreaterThan(0.03);
      expect(shown.colours).toBeGreaterThan(20);
      const png = await displayedImage(page);
      expect([...png.data.subarray(0, 3)]).toEqual([0x0f, 0x76, 0x6e]);
      const served = createHash("sha256").update(SHOP_PAGE("preview-secret")).digest("hex");
      expect(await page.$eval("#document", (p) => p.textContent)).toBe(
        `Page http://shop.test/order/42 · document sha256 ${served}`,
      );
      expect(sha).toMatch(/^[0-9a-f]{64}$/);
      const sent = shopRequests.find((h) => h.cookie === "session=preview-secret");
      expect(sent?.["x-preview"]).toBe("from the page");
      await page.screenshot({ path: join(SHOTS, "live-page-view.png"), fullPage: true });

      // Neither the cookie nor the header was kept in the browser.
      const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
      expect(stored).not.toContain("preview-secret");
      expect(stored).not.toContain("from the page");
      // Every render was answered by the submission itself (Prefer: wait): no job was polled.
      expect(renderCalls.submitted.length).toBeGreaterThanOrEqual(2);
      expect(renderCalls.submitted.every((status) => status === 200)).toBe(true);
      expect(renderCalls.polled).toBe(0);

      // A host the tenant does not allowlist is named next to the URL.
      await fill(page, { "#page-url": "http://elsewhere.test/" });
      expect(await errorIn(page, "#source-error", "source.url")).toMatch(/^source\.url: /);
      expect(await page.$("#download")).toBeNull();
    });
  });

  it("finishes a PDF with metadata and a stamp from the form, and warns that a password is not saved", async () => {
    await withPage(async (page) => {
      await renderedSha(page, "");
      expect(await page.$eval("#pdf-options", (f) => (f as HTMLElement).hidden)).toBe(true);
      await page.select("#format", "pdf");
      const plain = await renderedPdfSha(page, "");
      await fill(page, {
        "#pdf-title": "Quarterly report",
        "#pdf-author": "Ada Lovelace",
        "#pdf-keywords": "kiln, preview",
        "#pdf-language": "en-GB",
        "#stamp-text": "DRAFT",
        "#stamp-opacity": "0.5",
        "#stamp-rotation": "30",
      });
      await renderedPdfSha(page, plain);
      const shown = await elementShot(page, "#pdf canvas", "stamped-pdf.png");
      expect(inkStats(shown).colours).toBeGreaterThan(20);
      await page.screenshot({ path: join(SHOTS, "stamped-pdf-view.png"), fullPage: true });
      const bytes = await downloaded(page);
      const info = await pdfInfo(bytes);
      expect(info).toMatchObject({ Title: "Quarterly report", Author: "Ada Lovelace", Language: "en-GB" });
      expect((await readPdf(bytes)).text[0]).toContain("DRAFT");

      await fill(page, { "#pdf-password": "open sesame" });
      expect(await page.$eval("#password-warning", (p) => (p as HTMLElement).hidden)).toBe(false);
      await page.waitForFunction(() => document.querySelector("#meta")?.textContent?.includes("protected"), {
        timeout: 60_000,
      });
      await expect(pdfInfo(await downloaded(page))).rejects.toThrow(/password/i);
      expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain("open sesame");
      await page.screenshot({ path: join(SHOTS, "protected-pdf-view.png"), fullPage: true });
    });
  });
});

/** Statuses of the page's POST /v1/renders answers, and how many times it polled a job. */
function watchRenderCalls(page: Page): { submitted: number[]; polled: number } {
  const calls = { submitted: [] as number[], polled: 0 };
  page.on("response", (res) => {
    const path = new URL(res.url()).pathname;
    if (res.request().method() === "POST" && path === "/v1/renders") calls.submitted.push(res.status());
    if (res.request().method() === "GET" && path.startsWith("/v1/renders/")) calls.polled++;
  });
  return calls;
}

/**
 * Sets several controls at once and then tells the page, so that it renders once with all of them
 * (typing them one by one could render in between).
 */
async function fill(page: Page, values: Record<string, string>): Promise<void> {
  await page.evaluate((entries) => {
    for (const [selector, value] of entries) {
      const control = document.querySelector<HTMLInputElement | HTMLTextAreaElement>(selector);
      if (!control) throw new Error(`nothing matches ${selector}`);
      control.value = value;
    }
    for (const [selector] of entries) {
      document.querySelector(selector)?.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }, Object.entries(values));
}

/** Waits until the page shows a drawn PDF other than `previous`; returns its sha256. */
async function renderedPdfSha(page: Page, previous: string): Promise<string> {
  const handle = await page.waitForFunction(
    (prev) => {
      const pages = document.querySelector<HTMLElement>("#pdf");
      const sha = pages?.dataset.sha256;
      return pages && !pages.hidden && sha && sha !== prev && pages.querySelector("canvas") ? sha : false;
    },
    { timeout: 60_000 },
    previous,
  );
  return (await handle.jsonValue()) as string;
}

/** The bytes behind the page's download link (a signed URL on the edge). */
async function downloaded(page: Page): Promise<Uint8Array> {
  const href = await page.$eval("#download", (a) => (a as HTMLAnchorElement).href);
  const res = await fetch(href);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

/** The PDF's Info dictionary, read with PDF.js; rejects for a PDF that needs a password. */
async function pdfInfo(bytes: Uint8Array): Promise<Record<string, unknown>> {
  const task = getDocument({ data: new Uint8Array(bytes), verbosity: 0 });
  try {
    return (await (await task.promise).getMetadata()).info as Record<string, unknown>;
  } finally {
    await task.destroy();
  }
}

/** A fresh page of the preview; fails the test on any script error or CSP refusal. */
async function withPage(use: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.newPage();
  const problems: string[] = [];
  // A 400 answer is logged by Chrome as a failed load, and is expected here; CSP refusals are not.
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  try {
    await page.goto(ts.stack.previewUrl);
    await use(page);
    expect(problems).toEqual([]);
  } finally {
    await page.close();
  }
}

async function optionLabels(page: Page): Promise<string[]> {
  await page.waitForSelector("#template optgroup");
  return page.$$eval("#template option", (options) => options.map((o) => o.textContent ?? ""));
}

/** Selects a stored version and waits until its source is shown. */
async function chooseTemplate(page: Page, id: string, version: number): Promise<void> {
  const value = JSON.stringify({ id, version });
  await page.waitForFunction(
    (v) => [...document.querySelectorAll("#template option")].some((o) => o.getAttribute("value") === v),
    {},
    value,
  );
  await page.select("#template", value);
  await page.waitForFunction(() => !document.querySelector<HTMLElement>("#stored-html")?.hidden);
}

async function replaceText(page: Page, selector: string, text: string): Promise<void> {
  await page.$eval(selector, (t) => (t as HTMLTextAreaElement | HTMLInputElement).select());
  await page.keyboard.press("Backspace");
  await page.type(selector, text);
}

/** Chooses a file for an asset's upload input and waits until the stored key fills its key input. */
async function upload(page: Page, name: string, file: string): Promise<void> {
  const input = (await page.$(`#asset-file-${name}`)) as ElementHandle<HTMLInputElement> | null;
  if (!input) throw new Error(`no upload input for asset ${name}`);
  await input.uploadFile(file);
  await page.waitForFunction(
    (n) => document.querySelector<HTMLInputElement>(`#asset-key-${n}`)?.value !== "",
    { timeout: 60_000 },
    name,
  );
}

/** Waits until the page shows a loaded output other than `previous` (of `width` pixels), and returns its sha256. */
/**
 * Waits until the page shows a new rendered image (of `size`, when given: a render started while a
 * size was still being typed is not the one asked for) and returns its sha256.
 */
async function renderedSha(
  page: Page,
  previous: string,
  size?: { width: number; height?: number },
): Promise<string> {
  const handle = await page.waitForFunction(
    (prev, want) => {
      const img = document.querySelector<HTMLImageElement>("#image");
      const sha = img?.dataset.sha256;
      const sized =
        want === undefined ||
        (img?.naturalWidth === want.width &&
          (want.height === undefined || img.naturalHeight === want.height));
      const loaded = img?.complete && img.naturalWidth > 0 && sized;
      return img && !img.hidden && sha && sha !== prev && loaded ? sha : false;
    },
    { timeout: 60_000 },
    previous,
    size,
  );
  return (await handle.jsonValue()) as string;
}

/** Waits until the page shows a PDF's first page drawn, and returns a screenshot of that canvas. */
async function renderedPdf(page: Page): Promise<PNG> {
  await page.waitForFunction(
    () => {
      const pages = document.querySelector<HTMLElement>("#pdf");
      return pages && !pages.hidden && pages.dataset.sha256 && pages.querySelector("canvas");
    },
    { timeout: 60_000 },
  );
  return elementShot(page, "#pdf canvas", "certificate-pdf.png");
}

/** Waits for an error box (`#data-error`, `#result-error`…) to mention `fragment`; returns its text. */
async function errorIn(page: Page, box: string, fragment: string): Promise<string> {
  const handle = await page.waitForFunction(
    (selector, f) => {
      const element = document.querySelector<HTMLElement>(selector);
      return element && !element.hidden && element.textContent?.includes(f) ? element.textContent : false;
    },
    { timeout: 60_000 },
    box,
    fragment,
  );
  return (await handle.jsonValue()) as string;
}

/** The PNG the page displays, fetched from its signed URL and decoded. */
async function displayedImage(page: Page): Promise<PNG> {
  const src = await page.$eval("#image", (img) => (img as HTMLImageElement).src);
  expect(src.startsWith(`${ts.stack.edgeUrl}/`)).toBe(true);
  const res = await fetch(src);
  expect(res.status).toBe(200);
  return PNG.sync.read(Buffer.from(await res.arrayBuffer()));
}

/** What the browser shows of one element, saved under SHOTS as `name`. */
async function elementShot(page: Page, selector: string, name: string): Promise<PNG> {
  const element = await page.$(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  const shot = await element.screenshot({ path: join(SHOTS, name) });
  return PNG.sync.read(Buffer.from(shot));
}

/**
 * How much is drawn: the share of pixels not of the most common colour (0 for a blank area) and how
 * many colours there are (a few for flat boxes, hundreds for anti-aliased text and artwork).
 */
function inkStats(png: PNG): { inked: number; colours: number } {
  const counts = new Map<number, number>();
  for (let i = 0; i < png.data.length; i += 4) {
    const rgb = (png.data[i] ?? 0) * 65536 + (png.data[i + 1] ?? 0) * 256 + (png.data[i + 2] ?? 0);
    counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
  }
  return { inked: 1 - Math.max(...counts.values()) / (png.width * png.height), colours: counts.size };
}
