import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { powertoolsLogger } from "../../functions/adapters/powertools-logger.js";
import type { RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { parseLocalHosts } from "../../functions/local/local-hosts.js";
import { startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";
import { readPdf } from "./helpers/pdf-text.js";

/**
 * URL jobs through the local stack and real Chromium. `site.test` and `assets.test` are served on
 * 127.0.0.1 and reach the worker through KILN_LOCAL_HOSTS; a canary on 127.0.0.1 stands for
 * everything a page must never reach, and hears nothing.
 */

const COOKIE = "kiln-session-4f1c9a";
const HEADER = "kiln-header-77e2d0";

let t: TestStack;
let site: Server;
let assets: Server;
let canary: Server;
let canaryPort: number;
const logLines: string[] = [];
const siteRequests: Array<{ url: string; cookie?: string; secret?: string }> = [];
const assetRequests: Array<{ url: string; cookie?: string; secret?: string }> = [];
const canaryHits: string[] = [];

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler).listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;

const heard = (req: IncomingMessage) => ({
  url: req.url ?? "",
  ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}),
  ...(typeof req.headers["x-secret"] === "string" ? { secret: req.headers["x-secret"] } : {}),
});

beforeAll(async () => {
  const font = await readFile("examples/certificate/assets/certificate/great-vibes-latin-400.woff2");
  const png = pngPixel();
  canary = await listen((req, res) => {
    canaryHits.push(`${req.method} ${req.url}`);
    res.end("canary");
  });
  canaryPort = portOf(canary);
  assets = await listen((req, res) => {
    assetRequests.push(heard(req));
    res.writeHead(200, { "content-type": "image/png" }).end(png);
  });
  site = await listen((req, res) => {
    siteRequests.push(heard(req));
    const page = (body: string) =>
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html>
<html><head><link rel="stylesheet" href="/style.css"></head><body>${body}</body></html>`);
    switch (req.url?.startsWith("/seen?") ? "/logo.png" : req.url) {
      case "/style.css":
        res.writeHead(200, { "content-type": "text/css" }).end(`
@font-face { font-family: Script; src: url("/script.woff2") format("woff2"); }
body { margin: 0; background: #fdf6e3; font: 48px Script; }
.print-only { display: none; }
@media print { .screen-only { display: none; } .print-only { display: block; } }`);
        return;
      case "/script.woff2":
        res.writeHead(200, { "content-type": "font/woff2" }).end(font);
        return;
      case "/logo.png":
        res.writeHead(200, { "content-type": "image/png" }).end(png);
        return;
      case "/page":
        page(`<h1>Live page</h1><img src="/logo.png" width="64" height="64" alt="logo">
<img src="http://assets.test/pixel.png" width="8" height="8" alt="pixel">
<p class="screen-only">screen</p><p class="print-only">print</p>`);
        return;
      case "/redirect":
        res.writeHead(302, { location: "/page" }).end();
        return;
      case "/to-canary":
        res.writeHead(302, { location: `http://127.0.0.1:${canaryPort}/landing` }).end();
        return;
      case "/to-elsewhere":
        res.writeHead(302, { location: "https://elsewhere.example/landing" }).end();
        return;
      case "/loads-loopback":
        page(`<img src="http://127.0.0.1:${canaryPort}/pixel.png" alt="x">`);
        return;
      case "/loads-metadata":
        page(`<img src="http://169.254.169.254/latest/meta-data/" alt="x">`);
        return;
      case "/storage":
        // Reports what an earlier render may have left behind, then leaves something itself.
        page(`<script>
const seen = (localStorage.getItem("left") ?? "none") + "|" + (document.cookie || "none");
localStorage.setItem("left", "storage"); document.cookie = "left=cookie";
const img = new Image(); img.src = "/seen?" + encodeURIComponent(seen); document.body.append(img);
img.onload = () => { document.body.dataset.done = "1"; };
</script>`);
        return;
      case "/missing":
        res.writeHead(404, { "content-type": "text/html" }).end("gone");
        return;
      default:
        res.writeHead(404).end();
    }
  });
  // DEBUG, so that every line any function can write is written, and must not hold the secrets.
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "DEBUG");
  t = await startTestStack({
    logger: powertoolsLogger({ serviceName: "kiln-local", write: (line) => logLines.push(line) }),
    localHosts: parseLocalHosts(
      `site.test=127.0.0.1:${portOf(site)},assets.test=127.0.0.1:${portOf(assets)}`,
    ),
  });
  await t.clientA.putSettings({ egress: { allowHosts: ["site.test", "assets.test"] } });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  for (const server of [site, assets, canary]) {
    server?.closeAllConnections();
    server?.close();
  }
});

/** A 1×1 PNG: what the page's images are. */
function pngPixel(): Buffer {
  return Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    "base64",
  );
}

/** POST /v1/renders without the client's checks, for the answers to bad requests. */
async function post(body: unknown, apiKey = TENANT_A.apiKey) {
  const res = await fetch(`${t.stack.apiUrl}/v1/renders`, {
    method: "POST",
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: JSON.stringify(await res.json()) };
}

async function render(job: RenderSubmissionInput) {
  const { id } = await t.clientA.submitRender(job);
  return t.clientA.waitFor(id, { timeoutMs: 60_000 });
}

describe("URL jobs (source: { url })", () => {
  it("renders a local site's page to PNG with its stylesheet, font and images, sending the cookie and header to the site only", async () => {
    const job = await render({
      source: {
        url: "http://site.test/redirect",
        cookies: { session: COOKIE },
        headers: { "X-Secret": HEADER },
      },
      output: { format: "png", width: 480, height: 320 },
    });
    expect(job.error).toBeUndefined();
    expect(job.status).toBe("succeeded");
    const bytes = Buffer.from(await t.clientA.download(job));
    expect(bytes.subarray(1, 4).toString()).toBe("PNG");
    // The final document after the redirect, and what it was.
    expect(job.output?.document?.url).toBe("http://site.test/page");
    expect(job.output?.document?.sha256).toMatch(/^[0-9a-f]{64}$/);

    const fromSite = siteRequests.filter((r) =>
      ["/redirect", "/page", "/style.css", "/script.woff2", "/logo.png"].includes(r.url),
    );
    expect(new Set(fromSite.map((r) => r.url))).toEqual(
      new Set(["/redirect", "/page", "/style.css", "/script.woff2", "/logo.png"]),
    );
    for (const request of fromSite)
      expect(request).toMatchObject({ cookie: `session=${COOKIE}`, secret: HEADER });
    // Another allowed host of the page gets neither.
    expect(assetRequests.map((r) => r.url)).toContain("/pixel.png");
    for (const request of assetRequests) {
      expect(request.cookie).toBeUndefined();
      expect(request.secret).toBeUndefined();
    }

    // Neither the job's view nor any log line holds the secrets.
    const view = JSON.stringify(await t.clientA.getRender(job.id));
    for (const secret of [COOKIE, HEADER]) {
      expect(view).not.toContain(secret);
      expect(logLines.join("\n")).not.toContain(secret);
    }
    expect(logLines.length).toBeGreaterThan(0);
  });

  it("renders the page to PDF, in print media by default and in screen media when asked", async () => {
    const print = await render({ source: { url: "http://site.test/page" }, output: { format: "pdf" } });
    const screen = await render({
      source: { url: "http://site.test/page" },
      output: { format: "pdf" },
      emulateMedia: "screen",
    });
    // The same for a template.
    const template = await render({
      template: {
        html: `<style>.p{display:none}@media print{.s{display:none}.p{display:block}}</style><p class="s">screen</p><p class="p">print</p>`,
      },
      output: { format: "pdf" },
      emulateMedia: "screen",
    });
    for (const job of [print, screen, template]) expect(job.status).toBe("succeeded");
    const text = async (job: typeof print) => (await readPdf(await t.clientA.download(job))).text.join("\n");
    expect(await text(print)).toContain("print");
    expect(await text(print)).not.toContain("screen");
    expect(await text(screen)).toContain("screen");
    expect(await text(screen)).not.toContain("print");
    expect(await text(template)).toContain("screen");
    expect(await text(template)).not.toContain("print");
  });

  it.each([
    ["a main document redirected to a loopback address", "/to-canary", `http://127.0.0.1:CANARY/landing`],
    [
      "a main document redirected to a host not allowlisted",
      "/to-elsewhere",
      "https://elsewhere.example/landing",
    ],
    ["an image on a loopback address", "/loads-loopback", `http://127.0.0.1:CANARY/pixel.png`],
    ["an image on the metadata address", "/loads-metadata", "http://169.254.169.254/latest/meta-data/"],
  ])(
    "fails with egress_blocked naming the URL for %s, and the canary hears nothing",
    async (_name, path, blocked) => {
      const job = await render({ source: { url: `http://site.test${path}` }, output: { format: "png" } });
      expect(job.status).toBe("failed");
      expect(job.error?.code).toBe("egress_blocked");
      expect(job.error?.message).toContain(blocked.replace("CANARY", String(canaryPort)));
      expect(canaryHits).toEqual([]);
    },
  );

  it("refuses a page on a host the tenant did not allowlist (400), and fails a page that answers 404", async () => {
    const refused = await post(
      { source: { url: "http://site.test/page" }, output: { format: "png" } },
      TENANT_B.apiKey,
    );
    expect(refused.status).toBe(400);
    expect(refused.body).toContain("source.url");
    expect(refused.body).toContain("egress.allowHosts");
    const missing = await render({ source: { url: "http://site.test/missing" }, output: { format: "png" } });
    expect(missing.error).toMatchObject({ code: "page_error" });
    expect(missing.error?.message).toContain("HTTP 404");
  });

  it("runs a page's JavaScript only on hosts the tenant's settings name", async () => {
    const asked = {
      source: { url: "http://site.test/page" },
      output: { format: "png" as const },
      javascript: true,
    };
    const refused = await post(asked);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('"field":"javascript"');
    const put = await fetch(`${t.stack.apiUrl}/v1/settings`, {
      method: "PUT",
      headers: { "x-api-key": TENANT_A.apiKey, "content-type": "application/json" },
      body: JSON.stringify({
        egress: { allowHosts: ["site.test", "assets.test"] },
        urlJobs: { javascriptHosts: ["site.test"] },
      }),
    });
    expect(put.status).toBe(200);
    expect((await render(asked)).status).toBe("succeeded");

    // Nothing a page's scripts store outlives its render: the second render finds what the first did.
    const storage = {
      ...asked,
      source: { url: "http://site.test/storage" },
      waitFor: { expression: "document.body.dataset.done === '1'" },
    };
    for (let n = 0; n < 2; n++) expect((await render(storage)).error).toBeUndefined();
    expect(
      siteRequests.filter((r) => r.url.startsWith("/seen")).map((r) => decodeURIComponent(r.url)),
    ).toEqual(["/seen?none|none", "/seen?none|none"]);
  });

  it("answers 400 naming the field for a bad source", async () => {
    const bad = async (body: unknown) => {
      const answer = await post(body);
      expect(answer.status).toBe(400);
      return answer.body;
    };
    expect(await bad({ source: { url: "http://127.0.0.1:8080/" }, output: { format: "png" } })).toContain(
      "source.url",
    );
    expect(await bad({ source: { url: "https://user:pw@site.test/" }, output: { format: "png" } })).toContain(
      "source.url",
    );
    expect(
      await bad({
        source: { url: "https://site.test/", headers: { Cookie: "a=b" } },
        output: { format: "png" },
      }),
    ).toContain("source.headers");
    expect(
      await bad({
        source: { url: "https://site.test/" },
        template: { html: "<p>x</p>" },
        output: { format: "png" },
      }),
    ).toContain("source");
  });
});
