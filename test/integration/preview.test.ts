import { mkdir } from "node:fs/promises";
import chromium from "@sparticuz/chromium";
import { PNG } from "pngjs";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumExecutable } from "../../functions/adapters/chromium/executable.js";
import { KilnClient } from "../../functions/client/kiln-client.js";
import { startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";

const RECEIPT_SCHEMA = {
  type: "object",
  required: ["name", "total"],
  properties: { name: { type: "string" }, total: { type: "number" } },
};
const RECEIPT_HTML =
  "<main style=\"font-family:'Open Sans';padding:40px\"><h1 style='font-size:64px;margin:0'>{{ name }}</h1>" +
  "<p style='font-size:40px'>Total {{ total }}</p></main>";

let ts: TestStack;
let browser: Browser;

beforeAll(async () => {
  ts = await startTestStack();
  // Version 2 carries the schema: the listing and the page must offer the latest version.
  await ts.clientA.createTemplate({ id: "receipt", html: "<p>{{ name }}</p>" });
  await ts.clientA.createTemplate({ id: "receipt", html: RECEIPT_HTML, schema: RECEIPT_SCHEMA });
  await ts.clientB.createTemplate({ id: "globex-letter", html: "<p>{{ name }}</p>" });
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
});

const listTemplates = (apiKey: string) =>
  new KilnClient({ baseUrl: ts.stack.apiUrl, apiKey, retry: { attempts: 1 } }).listTemplates();

describe("GET /v1/templates", () => {
  it("lists each of the tenant's own templates once, at its latest version", async () => {
    expect(await listTemplates(TENANT_A.apiKey)).toEqual([
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

  it("re-renders as the data is edited, and shows schema and JSON errors next to the data", async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    // A 400 answer is logged by Chrome as a failed load, and is expected here; CSP refusals are not.
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    try {
      await page.goto(ts.stack.previewUrl);
      // The inline example renders first, through the API and the edge.
      const first = await renderedSha(page, "");
      expect(first).toMatch(/^[0-9a-f]{64}$/);

      const receipt = JSON.stringify({ id: "receipt", version: 2 });
      await page.waitForFunction(
        (value) =>
          [...document.querySelectorAll("#template option")].some((o) => o.getAttribute("value") === value),
        {},
        receipt,
      );
      await page.select("#template", receipt);
      // The example data has no total: the template's schema refuses it, named by the data editor.
      expect(await dataError(page, "data.total")).toContain("data.total");

      await replaceData(page, '{"name": "Ada Lovelace", "total": 12.5}');
      const ada = await renderedSha(page, first);
      const adaImage = await displayedImage(page);

      await replaceData(page, '{"name": "Grace Hopper", "total": 99}');
      const grace = await renderedSha(page, ada);
      const graceImage = await displayedImage(page);
      expect(grace).not.toBe(ada);
      expect([graceImage.width, graceImage.height]).toEqual([800, 450]);
      expect([adaImage.width, adaImage.height]).toEqual([800, 450]);
      expect(Buffer.compare(adaImage.data, graceImage.data)).not.toBe(0);
      expect(await page.$eval("#download", (a) => (a as HTMLAnchorElement).href)).toBe(
        await page.$eval("#image", (img) => (img as HTMLImageElement).src),
      );
      await mkdir("out", { recursive: true });
      await page.screenshot({ path: "out/preview.png" });

      await replaceData(page, '{"name": "Grace Hopper", "total": "lots"}');
      const schemaError = await dataError(page, "data.total");
      expect(schemaError).toMatch(/data\.total: .*number/);

      await replaceData(page, '{"name": "Grace Hopper",\n  "total": }');
      const jsonError = await dataError(page, "not valid JSON");
      expect(jsonError).toContain("line 2, column 12");
      expect(await page.$eval("#data", (t) => t.getAttribute("aria-invalid"))).toBe("true");

      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

async function replaceData(page: Page, text: string): Promise<void> {
  await page.$eval("#data", (t) => (t as HTMLTextAreaElement).select());
  await page.keyboard.press("Backspace");
  await page.type("#data", text);
}

/** Waits until the page shows a loaded output other than `previous`, and returns its sha256. */
async function renderedSha(page: Page, previous: string): Promise<string> {
  const handle = await page.waitForFunction(
    (prev) => {
      const img = document.querySelector<HTMLImageElement>("#image");
      const sha = img?.dataset.sha256;
      return img && !img.hidden && sha && sha !== prev && img.complete && img.naturalWidth > 0 ? sha : false;
    },
    { timeout: 60_000 },
    previous,
  );
  return (await handle.jsonValue()) as string;
}

/** Waits for the data editor's error to mention `fragment` and returns the whole message. */
async function dataError(page: Page, fragment: string): Promise<string> {
  const handle = await page.waitForFunction(
    (f) => {
      const box = document.querySelector<HTMLElement>("#data-error");
      return box && !box.hidden && box.textContent?.includes(f) ? box.textContent : false;
    },
    { timeout: 60_000 },
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
