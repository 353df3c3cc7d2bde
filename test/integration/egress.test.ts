import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connector, pinnedConnect } from "../../functions/adapters/chromium/egress-guard.js";
import type { RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import type { JobView } from "../../functions/core/job-view.js";
import { startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

/**
 * Hostile templates run as jobs through the local stack and real Chromium. A canary server on
 * 127.0.0.1 stands for everything a template must never reach (the stand-ins, the runtime API, the
 * metadata service): at the end it has seen no request at all, and every job that tried failed with
 * egress_blocked naming the URL it tried.
 */

/** A public documentation address the test's connector routes to the tenant's CDN stand-in. */
const TENANT_CDN_ADDRESS = "203.0.113.10";
const HOSTS: Record<string, string[]> = {
  "cdn.tenant.test": [TENANT_CDN_ADDRESS],
  // Allowlisted by the tenant, but resolves to loopback: the address rule still refuses it.
  "internal.tenant.test": ["127.0.0.1"],
};

const PNG_1PX =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

let t: TestStack;
let canary: Server;
let cdn: Server;
let C: string;
let port: number;
const canaryHits: string[] = [];
const cdnHits: string[] = [];
const edgeKeys: Array<{ key: string; status: number }> = [];

async function listen(handler: (req: IncomingMessage, res: import("node:http").ServerResponse) => void) {
  const server = createServer(handler).listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

beforeAll(async () => {
  canary = await listen((req, res) => {
    canaryHits.push(`${req.method} ${req.url}`);
    res.end("canary");
  });
  // Also hears WebSocket upgrades, which never reach the request handler.
  canary.on("upgrade", (req, socket) => {
    canaryHits.push(`UPGRADE ${req.url}`);
    socket.destroy();
  });
  port = (canary.address() as AddressInfo).port;
  C = `http://127.0.0.1:${port}`;
  cdn = await listen((req, res) => {
    cdnHits.push(req.url ?? "");
    if (req.url === "/redirect") {
      res.writeHead(302, { location: `${C}/from-redirect.png` }).end();
      return;
    }
    res.writeHead(200, { "content-type": "image/png" }).end(Buffer.from(PNG_1PX, "base64"));
  });
  const cdnPort = (cdn.address() as AddressInfo).port;
  const connect: Connector = (request) =>
    request.address === TENANT_CDN_ADDRESS
      ? pinnedConnect({
          ...request,
          url: new URL(`http://127.0.0.1:${cdnPort}${request.url.pathname}`),
          address: "127.0.0.1",
        })
      : pinnedConnect(request);
  t = await startTestStack({
    egress: {
      resolve: async (host) => {
        const found = HOSTS[host];
        if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
        return found;
      },
      connect,
    },
    onEdgeRequest: (e) => edgeKeys.push({ key: e.key, status: e.status }),
  });
  await t.clientA.putSettings({ egress: { allowHosts: ["cdn.tenant.test", "internal.tenant.test"] } });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  for (const server of [canary, cdn]) {
    server?.closeAllConnections();
    server?.close();
  }
});

interface HostileCase {
  readonly name: string;
  readonly html: () => string;
  /** The URL the failure must name, as Chromium and Kiln spell it. */
  readonly url: () => string;
  readonly javascript?: boolean;
  /** For a request made off the main thread: what makes the render wait until it was made. */
  readonly waitFor?: { readonly expression: string };
}

const img = (src: string) => `<p>x</p><img src="${src}">`;
const canon = (raw: string) => new URL(raw).href;

const HOSTILE: HostileCase[] = [
  { name: "img src", html: () => img(`${C}/img.png`), url: () => `${C}/img.png` },
  { name: "img srcset", html: () => `<img srcset="${C}/srcset.png 1x">`, url: () => `${C}/srcset.png` },
  {
    name: "stylesheet link",
    html: () => `<link rel="stylesheet" href="${C}/style.css"><p>x</p>`,
    url: () => `${C}/style.css`,
  },
  {
    name: "script src with JavaScript on",
    html: () => `<script src="${C}/script.js"></script>`,
    url: () => `${C}/script.js`,
    javascript: true,
  },
  { name: "iframe src", html: () => `<iframe src="${C}/frame.html"></iframe>`, url: () => `${C}/frame.html` },
  {
    name: "embed src",
    html: () => `<embed type="image/png" src="${C}/embed.png">`,
    url: () => `${C}/embed.png`,
  },
  { name: "video src", html: () => `<video src="${C}/video.mp4"></video>`, url: () => `${C}/video.mp4` },
  {
    name: "video poster",
    html: () => `<video poster="${C}/poster.png"></video>`,
    url: () => `${C}/poster.png`,
  },
  { name: "audio src", html: () => `<audio src="${C}/audio.mp3"></audio>`, url: () => `${C}/audio.mp3` },
  {
    name: "CSS @import",
    html: () => `<style>@import url("${C}/import.css");</style><p>x</p>`,
    url: () => `${C}/import.css`,
  },
  {
    name: "CSS url() background",
    html: () => `<style>body { background: url("${C}/bg.png"); }</style><p>x</p>`,
    url: () => `${C}/bg.png`,
  },
  {
    name: "CSS @font-face",
    html: () =>
      `<style>@font-face { font-family: Evil; src: url("${C}/font.woff2"); } p { font-family: Evil; }</style><p>x</p>`,
    url: () => `${C}/font.woff2`,
  },
  {
    name: "link rel=preload",
    html: () => `<link rel="preload" as="image" href="${C}/preload.png">`,
    url: () => `${C}/preload.png`,
  },
  {
    name: "meta refresh",
    html: () => `<meta http-equiv="refresh" content="0;url=${C}/meta">`,
    url: () => `${C}/meta`,
  },
  {
    name: "form auto-submit",
    html: () => `<form action="${C}/form" method="post"><input name="a" value="b"></form>
      <script>document.forms[0].submit()</script>`,
    url: () => `${C}/form`,
    javascript: true,
  },
  {
    name: "base href",
    html: () => `<base href="${C}/base/"><img src="logo.png">`,
    url: () => `${C}/base/logo.png`,
  },
  {
    name: "redirect from an allowlisted host",
    html: () => img("https://cdn.tenant.test/redirect"),
    url: () => `${C}/from-redirect.png`,
  },
  {
    name: "decimal IPv4",
    html: () => img(`http://2130706433:${port}/decimal.png`),
    url: () => `${C}/decimal.png`,
  },
  {
    name: "octal IPv4",
    html: () => img(`http://0177.0.0.1:${port}/octal.png`),
    url: () => `${C}/octal.png`,
  },
  {
    name: "hex IPv4 octets",
    html: () => img(`http://0x7f.0.0.1:${port}/hex.png`),
    url: () => `${C}/hex.png`,
  },
  {
    name: "hex IPv4 number",
    html: () => img(`http://0x7f000001:${port}/hexnum.png`),
    url: () => `${C}/hexnum.png`,
  },
  { name: "short IPv4", html: () => img(`http://127.1:${port}/short.png`), url: () => `${C}/short.png` },
  {
    name: "IPv4 with a trailing dot",
    html: () => img(`http://127.0.0.1.:${port}/dot.png`),
    url: () => `${C}/dot.png`,
  },
  {
    name: "localhost",
    html: () => img(`http://localhost:${port}/lh.png`),
    url: () => `http://localhost:${port}/lh.png`,
  },
  {
    name: "localhost with a trailing dot",
    html: () => img(`http://localhost.:${port}/lhdot.png`),
    url: () => `http://localhost.:${port}/lhdot.png`,
  },
  {
    name: "a .localhost subdomain",
    html: () => img(`http://canary.localhost:${port}/sub.png`),
    url: () => `http://canary.localhost:${port}/sub.png`,
  },
  {
    name: "IPv6 loopback",
    html: () => img(`http://[::1]:${port}/v6.png`),
    url: () => `http://[::1]:${port}/v6.png`,
  },
  {
    name: "IPv4-mapped IPv6, dotted",
    html: () => img(`http://[::ffff:127.0.0.1]:${port}/mapped.png`),
    url: () => canon(`http://[::ffff:127.0.0.1]:${port}/mapped.png`),
  },
  {
    name: "IPv4-mapped IPv6, hex",
    html: () => img(`http://[::ffff:7f00:1]:${port}/mappedhex.png`),
    url: () => `http://[::ffff:7f00:1]:${port}/mappedhex.png`,
  },
  {
    name: "6to4 embedding loopback",
    html: () => img(`http://[2002:7f00:1::]:${port}/6to4.png`),
    url: () => `http://[2002:7f00:1::]:${port}/6to4.png`,
  },
  {
    name: "NAT64 embedding loopback",
    html: () => img(`http://[64:ff9b::127.0.0.1]:${port}/nat64.png`),
    url: () => canon(`http://[64:ff9b::127.0.0.1]:${port}/nat64.png`),
  },
  {
    name: "cloud metadata",
    html: () => img("http://169.254.169.254/latest/meta-data/"),
    url: () => "http://169.254.169.254/latest/meta-data/",
  },
  {
    name: "AWS IPv6 metadata",
    html: () => img("http://[fd00:ec2::254]/latest/meta-data/"),
    url: () => "http://[fd00:ec2::254]/latest/meta-data/",
  },
  {
    name: "allowlisted host resolving to 127.0.0.1",
    html: () => img("https://internal.tenant.test/rebind.png"),
    url: () => "https://internal.tenant.test/rebind.png",
  },
  {
    name: "allowlisted host over http",
    html: () => img("http://cdn.tenant.test/plain.png"),
    url: () => "http://cdn.tenant.test/plain.png",
  },
  {
    name: "host not on the allowlist",
    html: () => img("https://elsewhere.example/x.png"),
    url: () => "https://elsewhere.example/x.png",
  },
  { name: "file:", html: () => img("file:///etc/passwd"), url: () => "file:///etc/passwd" },
  {
    name: "view-source:",
    html: () => `<iframe src="view-source:${C}/vs"></iframe>`,
    url: () => `view-source:${C}/vs`,
  },
  { name: "chrome:", html: () => `<iframe src="chrome://version"></iframe>`, url: () => "chrome://version/" },
  {
    name: "fetch",
    html: () => `<script>fetch("${C}/fetch")</script>`,
    url: () => `${C}/fetch`,
    javascript: true,
  },
  {
    name: "XMLHttpRequest",
    html: () => `<script>const x = new XMLHttpRequest(); x.open("GET", "${C}/xhr"); x.send();</script>`,
    url: () => `${C}/xhr`,
    javascript: true,
  },
  {
    name: "WebSocket",
    html: () => `<script>new WebSocket("ws://127.0.0.1:${port}/ws")</script>`,
    url: () => `ws://127.0.0.1:${port}/ws`,
    javascript: true,
  },
  {
    name: "EventSource",
    html: () => `<script>new EventSource("${C}/events")</script>`,
    url: () => `${C}/events`,
    javascript: true,
  },
  {
    name: "sendBeacon",
    html: () => `<script>navigator.sendBeacon("${C}/beacon", "x")</script>`,
    url: () => `${C}/beacon`,
    javascript: true,
    // A beacon is sent when Chromium gets to it: once a CI run on a busy machine captured the page
    // first. The render now waits until the beacon has gone, as the Worker case below does.
    waitFor: {
      expression: "performance.getEntriesByType('resource').some((e) => e.name.endsWith('/beacon'))",
    },
  },
  {
    name: "fetch from a Worker",
    // The worker starts after load; the render waits until its fetch has settled, or on a busy machine
    // the capture could come first and the case would prove nothing.
    html: () =>
      `<script>new Worker("data:text/javascript,fetch('${C}/worker').finally(()=>postMessage(1))").onmessage=()=>{window.workerFetched=true}</script>`,
    url: () => `${C}/worker`,
    javascript: true,
    waitFor: { expression: "window.workerFetched === true" },
  },
  {
    name: "window.open",
    html: () => `<script>window.open("${C}/open")</script>`,
    url: () => `${C}/open`,
    javascript: true,
  },
  {
    name: "location change",
    html: () => `<script>location.href = "${C}/away"</script>`,
    url: () => `${C}/away`,
    javascript: true,
  },
];

async function run(job: Omit<RenderSubmissionInput, "output">): Promise<JobView> {
  const submitted = await t.clientA.submitRender({
    ...job,
    output: { format: "png", width: 200, height: 100 },
  });
  return t.clientA.waitFor(submitted.id, { timeoutMs: 120_000, intervalMs: 200 });
}

describe("egress from templates", () => {
  it(`blocks ${HOSTILE.length} hostile templates, naming each URL, and the canary hears nothing`, async () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(40);
    const results = await Promise.all(
      HOSTILE.map(async (c) => ({
        c,
        job: await run({
          template: { html: c.html() },
          ...(c.javascript ? { javascript: true } : {}),
          ...(c.waitFor ? { waitFor: c.waitFor } : {}),
        }),
      })),
    );
    const wrong = results
      .filter(
        ({ c, job }) =>
          job.status !== "failed" ||
          job.error?.code !== "egress_blocked" ||
          !job.error.message.includes(c.url()),
      )
      .map(({ c, job }) => `${c.name}: ${job.status} ${job.error?.code} ${job.error?.message}`);
    expect(wrong).toEqual([]);
    // The redirect was fetched from the allowlisted host; its target never was.
    expect(cdnHits).toContain("/redirect");
    expect(canaryHits).toEqual([]);
  });

  it("lets nothing out for resources Chromium may load only after capture, if at all", async () => {
    // Prefetches wait for an idle network, a track for a playable video, an <object> sometimes for
    // layout after load. Requested during the render, they fail the job like any other; requested
    // after it, a page between renders refuses every request, and the job has succeeded without them.
    const late: Array<{ html: string; url: string }> = [
      { html: `<p>x</p><link rel="prefetch" href="${C}/prefetch">`, url: `${C}/prefetch` },
      { html: `<link rel="dns-prefetch" href="//canary.test"><link rel="preconnect" href="${C}">`, url: C },
      { html: `<object type="image/png" data="${C}/object.png"></object>`, url: `${C}/object.png` },
      {
        html: `<video src="data:video/mp4;base64,AAAA"><track default kind="captions" src="${C}/track.vtt"></video>`,
        url: `${C}/track.vtt`,
      },
    ];
    const jobs = await Promise.all(late.map((c) => run({ template: { html: c.html } })));
    for (const [i, job] of jobs.entries()) {
      if (job.status === "succeeded") continue;
      expect(job.error?.code).toBe("egress_blocked");
      expect(job.error?.message).toContain(late[i]?.url);
    }
    expect(canaryHits).toEqual([]);
  });

  it("does not even request a script while JavaScript is off, and renders the rest", async () => {
    const job = await run({ template: { html: `<p>x</p><script src="${C}/off.js"></script>` } });
    expect(job.status).toBe("succeeded");
    expect(canaryHits).toEqual([]);
  });

  it("drops a blocked image and succeeds when the job sends blockedRequests: ignore", async () => {
    const job = await run({ template: { html: img(`${C}/ignored.png`) }, blockedRequests: "ignore" });
    expect(job.status).toBe("succeeded");
    expect(canaryHits).toEqual([]);
  });

  it("fails a navigation away even when the job ignores blocked requests", async () => {
    const job = await run({
      template: { html: `<meta http-equiv="refresh" content="0;url=${C}/leave">` },
      blockedRequests: "ignore",
    });
    expect(job.error?.code).toBe("egress_blocked");
    expect(job.error?.message).toContain(`${C}/leave`);
    expect(canaryHits).toEqual([]);
  });

  it("allows a data: image, a signed asset through the edge and an allowlisted host", async () => {
    await t.clientA.putAsset("egress/dot.png", Buffer.from(PNG_1PX, "base64"), "image/png");
    const [data, asset, allowlisted] = await Promise.all([
      run({ template: { html: img(`data:image/png;base64,${PNG_1PX}`) } }),
      run({ template: { html: `<img src="{{ 'dot' | asset_url }}">` }, assets: { dot: "egress/dot.png" } }),
      run({ template: { html: img("https://cdn.tenant.test/ok.png") } }),
    ]);
    for (const job of [data, asset, allowlisted]) expect(job.error).toBeUndefined();
    expect([data.status, asset.status, allowlisted.status]).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(edgeKeys).toContainEqual({ key: `assets/${TENANT_A.tenant}/egress/dot.png`, status: 200 });
    expect(cdnHits).toContain("/ok.png");
    expect(canaryHits).toEqual([]);
  });

  it("refuses waitFor.expression without javascript: true, naming the field", async () => {
    const error = await t.clientA
      .submitRender({
        template: { html: "<p>x</p>" },
        output: { format: "png" },
        waitFor: { expression: "true" },
      })
      .catch((e: unknown) => e);
    expect((error as { status: number }).status).toBe(400);
    expect(JSON.stringify((error as { body: unknown }).body)).toContain("waitFor.expression");
  });
});
