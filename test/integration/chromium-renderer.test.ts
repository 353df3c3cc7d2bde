import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool } from "../../functions/adapters/chromium/browser-pool.js";
import { ChromiumRenderer, RenderTimeoutError } from "../../functions/adapters/chromium/chromium-renderer.js";
import { PermanentRenderError } from "../../functions/core/errors.js";
import type { OutputOptions, PageOptions } from "../../functions/core/render-request.js";
import { RENDERER } from "../../functions/core/renderer-identity.js";

const out = (o: Partial<OutputOptions> & Pick<OutputOptions, "format">): OutputOptions => ({
  width: 300,
  height: 200,
  scale: 1,
  ...o,
});

/** A 100×80 box at (50, 40) on white. */
const boxPage = (colour = "rgb(200, 30, 40)") => `<!doctype html>
<html><head><style>
  body { margin: 0; background: #fff; font-family: "Open Sans"; }
  .box { position: absolute; left: 50px; top: 40px; width: 100px; height: 80px; background: ${colour}; }
</style></head><body><div class="box"></div><p style="margin-left: 170px">Kiln</p></body></html>`;

const invoicePage = () => {
  const rows = Array.from({ length: 30 }, (_, i) => `<tr><td>${i}</td><td>Item ${i}</td></tr>`).join("");
  return `<!doctype html><html lang="en"><head><title>Invoice</title></head><body><h1>Invoice</h1>
    <table><thead><tr><th>#</th><th>Item</th></tr></thead><tbody>${rows}</tbody></table></body></html>`;
};

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (y * png.width + x) * 4;
  return [png.data[i] ?? -1, png.data[i + 1] ?? -1, png.data[i + 2] ?? -1];
}

const ascii = (bytes: Uint8Array, from: number, to: number) =>
  Buffer.from(bytes.subarray(from, to)).toString("latin1");

/** Width and height from a JPEG's start-of-frame segment. */
function jpegSize(jpeg: Uint8Array): { width: number; height: number } {
  const view = Buffer.from(jpeg);
  let at = 2;
  while (at + 9 < view.length) {
    const marker = view[at + 1] ?? 0;
    const isSof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isSof) return { height: view.readUInt16BE(at + 5), width: view.readUInt16BE(at + 7) };
    at += 2 + view.readUInt16BE(at + 2);
  }
  throw new Error("no SOF segment");
}

/** Width and height from a WebP's first chunk (lossy VP8, lossless VP8L or extended VP8X). */
function webpSize(webp: Uint8Array): { width: number; height: number } {
  const view = Buffer.from(webp);
  const chunk = ascii(webp, 12, 16);
  if (chunk === "VP8 ") {
    expect([...webp.subarray(23, 26)]).toEqual([0x9d, 0x01, 0x2a]);
    return { width: view.readUInt16LE(26) & 0x3fff, height: view.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === "VP8L") {
    const bits = view.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (chunk === "VP8X") return { width: view.readUIntLE(24, 3) + 1, height: view.readUIntLE(27, 3) + 1 };
  throw new Error(`unexpected WebP chunk ${chunk}`);
}

describe("ChromiumRenderer (real Chromium)", () => {
  const pool = new BrowserPool();
  const renderer = new ChromiumRenderer({ pool, timeoutMs: 15_000 });

  afterAll(async () => {
    await pool.close();
  });

  it("launches the Chromium build that render-cache keys and provenance name (RENDERER.chromium)", async () => {
    const version = await pool.withPage((page) => page.browser().version());
    expect(version).toBe(`HeadlessChrome/${RENDERER.chromium}`);
  });

  it("renders a PNG at the requested size with the box where the HTML put it", async () => {
    const bytes = await renderer.render(boxPage(), out({ format: "png" }));
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([300, 200]);
    expect(pixel(png, 51, 41)).toEqual([200, 30, 40]);
    expect(pixel(png, 100, 80)).toEqual([200, 30, 40]);
    expect(pixel(png, 148, 118)).toEqual([200, 30, 40]);
    expect(pixel(png, 48, 80)).toEqual([255, 255, 255]);
    expect(pixel(png, 100, 38)).toEqual([255, 255, 255]);
    expect(pixel(png, 100, 122)).toEqual([255, 255, 255]);
    expect(pixel(png, 290, 190)).toEqual([255, 255, 255]);
  });

  it("scales the output with the device scale factor", async () => {
    const png = PNG.sync.read(
      Buffer.from(await renderer.render(boxPage(), out({ format: "png", scale: 2 }))),
    );
    expect([png.width, png.height]).toEqual([600, 400]);
    expect(pixel(png, 102, 82)).toEqual([200, 30, 40]);
    expect(pixel(png, 96, 160)).toEqual([255, 255, 255]);
  });

  it("gives byte-identical PNGs for identical input", async () => {
    const a = await renderer.render(boxPage(), out({ format: "png" }));
    const b = await renderer.render(boxPage(), out({ format: "png" }));
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it("renders a JPEG with its quality and the requested dimensions", async () => {
    const jpeg = await renderer.render(boxPage(), out({ format: "jpeg", quality: 80 }));
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(jpegSize(jpeg)).toEqual({ width: 300, height: 200 });
  });

  it("renders a WebP with the requested dimensions", async () => {
    const webp = await renderer.render(boxPage(), out({ format: "webp", quality: 80, scale: 2 }));
    expect(ascii(webp, 0, 4)).toBe("RIFF");
    expect(ascii(webp, 8, 12)).toBe("WEBP");
    expect(webpSize(webp)).toEqual({ width: 600, height: 400 });
  });

  it("renders a PDF, and the same HTML twice gives identical bytes", async () => {
    // A table makes Chromium write per-process DOM node ids into the tagged PDF.
    const a = await renderer.render(invoicePage(), out({ format: "pdf" }));
    await renderer.render(`<p>${"other nodes ".repeat(200)}</p>`, out({ format: "png" }));
    const b = await renderer.render(invoicePage(), out({ format: "pdf" }));
    expect(ascii(a, 0, 5)).toBe("%PDF-");
    expect(ascii(a, 0, a.length)).toContain("/CreationDate (D:20000101000000");
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it("turns motion off and reports reduced motion", async () => {
    const html = `<style>
      body { margin: 0; }
      div { width: 300px; height: 200px; background: rgb(0, 0, 255); transition: background 10s; }
      @keyframes flash { from { background: rgb(255, 0, 0); } to { background: rgb(255, 0, 0); } }
      .moving { animation: flash 10s infinite; }
      @media (prefers-reduced-motion: reduce) { div { background: rgb(0, 128, 0); } }
    </style><div class="moving"></div>`;
    const png = PNG.sync.read(Buffer.from(await renderer.render(html, out({ format: "png" }))));
    expect(pixel(png, 150, 100)).toEqual([0, 128, 0]);
  });

  it("keeps motion off when the template drops the adopted style sheets", async () => {
    const html = `<style>
      body { margin: 0; }
      @keyframes flash { from { background: rgb(255, 0, 0); } to { background: rgb(255, 0, 0); } }
      div { width: 300px; height: 200px; background: rgb(0, 0, 255); animation: flash 10s infinite; }
    </style><div></div><script>document.adoptedStyleSheets = [];</script>`;
    const png = PNG.sync.read(
      Buffer.from(await renderer.render(html, out({ format: "png" }), { javascript: true })),
    );
    expect(pixel(png, 150, 100)).toEqual([0, 0, 255]);
  });

  it("renders several documents at once on one browser without mixing them up", async () => {
    const colours: [number, number, number][] = [
      [200, 30, 40],
      [30, 160, 60],
      [40, 60, 200],
      [220, 180, 20],
    ];
    const launches = pool.stats().launches;
    const pngs = await Promise.all(
      colours.map(async ([r, g, b]) => {
        const bytes = await renderer.render(boxPage(`rgb(${r}, ${g}, ${b})`), out({ format: "png" }));
        return PNG.sync.read(Buffer.from(bytes));
      }),
    );
    expect(pngs.map((png) => pixel(png, 100, 80))).toEqual(colours);
    expect(pool.stats().launches).toBe(launches);
  });

  it("fails permanently when the template closes its own window", async () => {
    const error = await renderer
      .render("<script>window.close()</script>", out({ format: "png" }), { javascript: true })
      .catch((e) => e);
    expect(error).toBeInstanceOf(PermanentRenderError);
    expect(error.code).toBe("render_error");
  });

  it("fails, retryably, when a web font cannot be loaded", async () => {
    const html = `<style>@font-face { font-family: Missing; src: url(data:font/woff2;base64,AAAA); }
      body { font-family: Missing; }</style>text`;
    const error = await renderer.render(html, out({ format: "png" })).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentRenderError);
    expect(error.message).toContain("Web fonts failed to load: Missing");
  });

  it("runs no template script unless the render turns JavaScript on, on the same reused page", async () => {
    const html = `<body style="margin: 0; background: rgb(0, 0, 255)"><script>
      document.body.style.background = "rgb(255, 0, 0)";
    </script></body>`;
    const off = PNG.sync.read(Buffer.from(await renderer.render(html, out({ format: "png" }))));
    expect(pixel(off, 150, 100)).toEqual([0, 0, 255]);
    const on = PNG.sync.read(
      Buffer.from(await renderer.render(html, out({ format: "png" }), { javascript: true })),
    );
    expect(pixel(on, 150, 100)).toEqual([255, 0, 0]);
    const offAgain = PNG.sync.read(Buffer.from(await renderer.render(html, out({ format: "png" }))));
    expect(pixel(offAgain, 150, 100)).toEqual([0, 0, 255]);
  });

  it("keeps the clock, waitFor and readiness working with JavaScript off", async () => {
    const html = `<style>@font-face { font-family: Missing; src: url(data:font/woff2;base64,AAAA); }
      p { font-family: Missing; }</style><p id="ready">text</p>`;
    const error = await renderer
      .render(html, out({ format: "png" }), {
        clock: "2026-01-01T00:00:00.000Z",
        waitFor: { selector: "#ready", timeoutMs: 2_000 },
      })
      .catch((e) => e);
    // The settle step still inspects fonts without any template script running.
    expect(error.message).toContain("Web fonts failed to load: Missing");
  });

  it("fails with egress_blocked, naming the URL, when the template loads from a loopback address", async () => {
    const error = await renderer
      .render(`<img src="http://127.0.0.1:9/x.png?secret=1">`, out({ format: "png" }))
      .catch((e) => e);
    expect(error).toBeInstanceOf(PermanentRenderError);
    expect(error.code).toBe("egress_blocked");
    expect(error.message).toContain("http://127.0.0.1:9/x.png (127.0.0.1 is a loopback address)");
    expect(error.message).not.toContain("secret");
  });

  it("drops a blocked image and renders the rest when the job ignores blocked requests", async () => {
    const html = `${boxPage()}<img alt="gone" src="http://10.0.0.1/x.png">`;
    const png = PNG.sync.read(
      Buffer.from(await renderer.render(html, out({ format: "png" }), { blockedRequests: "ignore" })),
    );
    expect(pixel(png, 100, 80)).toEqual([200, 30, 40]);
  });

  describe("when a render hangs", () => {
    let server: Server;
    let hangUrl: string;
    let hangPool: BrowserPool;
    let quick: ChromiumRenderer;

    beforeAll(async () => {
      // Accepts the request and never answers: the page's load event never fires.
      server = createServer(() => undefined).listen(0, "127.0.0.1");
      await once(server, "listening");
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      hangUrl = `${origin}/never.png`;
      // The silent server stands in for the asset origin, the one loopback origin a page may reach.
      hangPool = new BrowserPool({ egress: { allowedOrigins: [origin] } });
      quick = new ChromiumRenderer({ pool: hangPool, timeoutMs: 1_500 });
    });

    afterAll(async () => {
      await hangPool.close();
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    });

    it("times out on a resource that never arrives, keeps the browser, and renders the next one", async () => {
      await quick.render(boxPage(), out({ format: "png" }));
      const before = hangPool.stats();
      const error = await quick.render(`<img src="${hangUrl}">`, out({ format: "png" })).catch((e) => e);
      expect(error).toBeInstanceOf(RenderTimeoutError);
      expect(error.message).toMatch(/did not finish within 1500 ms/);
      expect(error).not.toBeInstanceOf(PermanentRenderError);

      const png = PNG.sync.read(Buffer.from(await quick.render(boxPage(), out({ format: "png" }))));
      expect(pixel(png, 100, 80)).toEqual([200, 30, 40]);
      expect(hangPool.stats()).toMatchObject({
        launches: before.launches,
        discards: before.discards,
        inFlight: 0,
      });
    });

    it("times out on a runaway script, replaces the blocked browser, and renders the next one", async () => {
      const before = hangPool.stats();
      const error = await quick
        .render("<script>for (;;) {}</script>", out({ format: "png" }), { javascript: true })
        .catch((e) => e);
      expect(error).toBeInstanceOf(RenderTimeoutError);
      expect(hangPool.stats().discards).toBe(before.discards + 1);

      const png = PNG.sync.read(Buffer.from(await quick.render(boxPage(), out({ format: "png" }))));
      expect(pixel(png, 100, 80)).toEqual([200, 30, 40]);
      expect(hangPool.stats().launches).toBe(before.launches + 1);
    });
  });

  it("relaunches after the browser process is killed", async () => {
    await renderer.render(boxPage(), out({ format: "png" }));
    const before = pool.stats();
    const pid = pool.browserProcessId();
    expect(pid).toBeTypeOf("number");
    process.kill(pid as number, "SIGKILL");

    const png = PNG.sync.read(Buffer.from(await renderer.render(boxPage(), out({ format: "png" }))));
    expect(pixel(png, 100, 80)).toEqual([200, 30, 40]);
    expect(pool.stats()).toMatchObject({ launches: before.launches + 1, crashes: before.crashes + 1 });
    expect(pool.browserProcessId()).not.toBe(pid);
  });
});

describe("BrowserPool page reuse", () => {
  const pool = new BrowserPool({ sparePages: 0 });
  const renderer = new ChromiumRenderer({ pool });

  afterAll(async () => {
    await pool.close();
  });

  it("reuses a page for the next render without letting anything of the last one through", async () => {
    // Everything a template can leave behind in its window: globals, a running timer, a listener
    // on the window, the window's name, and a scroll position.
    const leaky = `<script>
      window.leaked = "tenant A";
      window.name = "tenant A";
      setInterval(() => { document.body.style.background = "rgb(255, 0, 0)"; }, 1);
      addEventListener("load", () => { document.body.style.background = "rgb(255, 0, 0)"; });
    </script><div style="height: 5000px"></div>`;
    const probe = `<body style="margin: 0"><script>
      document.body.style.background = window.leaked || window.name ? "rgb(255, 0, 0)" : "rgb(0, 128, 0)";
    </script></body>`;
    await renderer.render(leaky, out({ format: "png" }), { javascript: true });
    // The page is reset in the background once the render has returned.
    await eventually(() => pool.stats().idlePages === 1);
    const opened = pool.stats().pagesOpened;
    const png = PNG.sync.read(
      Buffer.from(await renderer.render(probe, out({ format: "png" }), { javascript: true })),
    );
    expect(pool.stats().pagesOpened).toBe(opened);
    expect(pixel(png, 150, 100)).toEqual([0, 128, 0]);
    expect(pixel(png, 5, 5)).toEqual([0, 128, 0]);
  });

  it("turns the template's JavaScript off again on the page a JavaScript render used", async () => {
    const html = `<body style="margin: 0; background: rgb(0, 0, 255)"><script>
      document.body.style.background = "rgb(255, 0, 0)";
    </script></body>`;
    await renderer.render(html, out({ format: "png" }), { javascript: true });
    await eventually(() => pool.stats().idlePages === 1);
    const opened = pool.stats().pagesOpened;
    const off = PNG.sync.read(Buffer.from(await renderer.render(html, out({ format: "png" }))));
    expect(pool.stats().pagesOpened).toBe(opened);
    expect(pixel(off, 150, 100)).toEqual([0, 0, 255]);
    await eventually(() => pool.stats().idlePages === 1);
    const on = PNG.sync.read(
      Buffer.from(await renderer.render(html, out({ format: "png" }), { javascript: true })),
    );
    expect(pool.stats().pagesOpened).toBe(opened);
    expect(pixel(on, 150, 100)).toEqual([255, 0, 0]);
  });

  it("gives a reused page the same bytes as a fresh one, at another size", async () => {
    const fresh = new BrowserPool({ maxRendersPerPage: 1, sparePages: 0 });
    try {
      const onFresh = await new ChromiumRenderer({ pool: fresh }).render(
        boxPage(),
        out({ format: "png", scale: 2 }),
      );
      await renderer.render(invoicePage(), out({ format: "png", width: 640, height: 480 }));
      const onReused = await renderer.render(boxPage(), out({ format: "png", scale: 2 }));
      expect(Buffer.compare(onFresh, onReused)).toBe(0);
      expect(fresh.stats()).toMatchObject({ renders: 1, pagesOpened: 1 });
    } finally {
      await fresh.close();
    }
  });

  it("does not reuse the page of a failed render", async () => {
    const own = new BrowserPool({ sparePages: 0 });
    try {
      const ownRenderer = new ChromiumRenderer({ pool: own });
      await ownRenderer.render(boxPage(), out({ format: "png" }));
      await eventually(() => own.stats().idlePages === 1);
      const missingFont = `<style>@font-face { font-family: Missing; src: url(data:font/woff2;base64,AAAA); }
        body { font-family: Missing; }</style>text`;
      await expect(ownRenderer.render(missingFont, out({ format: "png" }))).rejects.toThrow(
        /Web fonts failed/,
      );
      await ownRenderer.render(boxPage(), out({ format: "png" }));
      // The failed render had the only page; it was closed, so the next render needed a new one.
      expect(own.stats()).toMatchObject({ renders: 3, pagesOpened: 2 });
    } finally {
      await own.close();
    }
  });

  it("replaces a page after maxRendersPerPage renders", async () => {
    const short = new BrowserPool({ maxRendersPerPage: 2, sparePages: 0 });
    try {
      const shortRenderer = new ChromiumRenderer({ pool: short });
      for (let i = 0; i < 4; i++) {
        await shortRenderer.render(boxPage(), out({ format: "png" }));
        if (i % 2 === 0) await eventually(() => short.stats().idlePages === 1);
      }
      expect(short.stats()).toMatchObject({ renders: 4, pagesOpened: 2 });
    } finally {
      await short.close();
    }
  });

  it("keeps a page for each render of a burst, so the next burst opens none", async () => {
    const bursty = new BrowserPool({ sparePages: 0 });
    try {
      const burstRenderer = new ChromiumRenderer({ pool: bursty });
      const burst = () =>
        Promise.all(Array.from({ length: 6 }, () => burstRenderer.render(boxPage(), out({ format: "png" }))));
      await burst();
      await eventually(() => bursty.stats().idlePages === 6);
      const opened = bursty.stats().pagesOpened;
      await burst();
      expect(bursty.stats().pagesOpened).toBe(opened);
    } finally {
      await bursty.close();
    }
  });

  it("launches and prepares a page ahead of the first render when warmed", async () => {
    const warm = new BrowserPool();
    try {
      warm.warm();
      await eventually(() => warm.stats().pagesOpened === 1);
      expect(warm.stats()).toMatchObject({ launches: 1, renders: 0 });
      await new ChromiumRenderer({ pool: warm }).render(boxPage(), out({ format: "png" }));
      expect(warm.stats()).toMatchObject({ launches: 1, renders: 1 });
    } finally {
      await warm.close();
    }
  });
});

describe("BrowserPool page reuse after a document without script", () => {
  // A page is reused without a navigation after a render with JavaScript off and no clock: these
  // show that such a document leaves nothing behind for the next render on the same page.
  let server: Server;
  let slowImage: string;
  let pool: BrowserPool;
  let renderer: ChromiumRenderer;
  const onePixelPng = PNG.sync.write(new PNG({ width: 1, height: 1 }));

  beforeAll(async () => {
    // Answers after 1.5 s: a render of it is still running when an earlier document's refresh is due.
    server = createServer((_req, res) => {
      setTimeout(() => res.writeHead(200, { "content-type": "image/png" }).end(onePixelPng), 1_500);
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    slowImage = `${origin}/slow.png`;
    pool = new BrowserPool({ sparePages: 0, egress: { allowedOrigins: [origin] } });
    renderer = new ChromiumRenderer({ pool, timeoutMs: 15_000 });
  });

  afterAll(async () => {
    await pool.close();
    server.closeAllConnections();
    server.close();
  });

  /** Renders `html` on the page the last render used (reset in the background once it returned). */
  async function renderOnSamePage(html: string, options: PageOptions = {}, format: "png" | "pdf" = "png") {
    await eventually(() => pool.stats().idlePages === 1);
    const opened = pool.stats().pagesOpened;
    const bytes = await renderer.render(html, out({ format }), options);
    expect(pool.stats().pagesOpened).toBe(opened);
    return bytes;
  }

  it("lets a script-free document write nothing the next render's scripts can see", async () => {
    // With JavaScript off none of these run: not the script, not the handlers, not the frame's.
    const writer = `<body onload="window.name = 'tenant A'"><script>
      window.leaked = "tenant A";
      window.name = "tenant A";
      try { localStorage.setItem("leaked", "tenant A"); } catch {}
      try { document.cookie = "leaked=tenant A"; } catch {}
      setInterval(() => { document.body.style.background = "rgb(255, 0, 0)"; }, 1);
    </script><img src="data:image/png;base64,AAAA" onerror="window.leaked = 'tenant A'">
    <iframe srcdoc="<script>parent.leaked = 'tenant A'; parent.name = 'tenant A'</script>"></iframe>
    <iframe src="javascript:parent.leaked = 'tenant A'"></iframe></body>`;
    const probe = `<body style="margin: 0"><script>
      let seen = window.leaked || window.name;
      // Both throw for the opaque origin of a written document; either would show a write.
      try { seen = seen || document.cookie; } catch {}
      try { seen = seen || localStorage.getItem("leaked"); } catch {}
      document.body.style.background = seen ? "rgb(255, 0, 0)" : "rgb(0, 128, 0)";
    </script></body>`;
    await renderer.render(writer, out({ format: "png" }), { resourceErrors: "ignore" });
    const png = PNG.sync.read(Buffer.from(await renderOnSamePage(probe, { javascript: true })));
    // Red also had the interval survived into the probe's document.
    expect(pixel(png, 150, 100)).toEqual([0, 128, 0]);
  });

  it("cancels a script-free document's refresh, which would otherwise fire during the next render", async () => {
    const refresher = `<meta http-equiv="refresh" content="1; url=https://example.com/elsewhere">${boxPage()}`;
    await renderer.render(refresher, out({ format: "png" }));
    // Still rendering (its image takes 1.5 s) when the refresh would leave the page.
    const png = PNG.sync.read(Buffer.from(await renderOnSamePage(`${boxPage()}<img src="${slowImage}">`)));
    expect(pixel(png, 100, 80)).toEqual([200, 30, 40]);
  });

  it("keeps a script-free document's Content-Security-Policy from the next render", async () => {
    // A policy from a meta element stays with the page's document through the next render's write.
    const policy = `<meta http-equiv="Content-Security-Policy" content="style-src 'none'"><p>A</p>`;
    await renderer.render(policy, out({ format: "png" }));
    const png = PNG.sync.read(Buffer.from(await renderOnSamePage(boxPage())));
    expect(pixel(png, 100, 80)).toEqual([200, 30, 40]);
  });

  it("gives the next render a fresh realm after a render with a clock, even with JavaScript off", async () => {
    await renderer.render(boxPage(), out({ format: "png" }), { clock: "2020-01-01T00:00:00.000Z" });
    const probe = `<body style="margin: 0"><script>
      document.body.style.background = new Date().getFullYear() === 2020 ? "rgb(255, 0, 0)" : "rgb(0, 128, 0)";
    </script></body>`;
    const png = PNG.sync.read(Buffer.from(await renderOnSamePage(probe, { javascript: true })));
    expect(pixel(png, 150, 100)).toEqual([0, 128, 0]);
  });

  it("gives the same bytes on a page reused after script-free documents as on a fresh page", async () => {
    const fresh = new BrowserPool({ maxRendersPerPage: 1, sparePages: 0 });
    try {
      const onFresh = new ChromiumRenderer({ pool: fresh });
      const standards = `${invoicePage()}<style>body { font-family: "Open Sans"; }</style>`;
      // No doctype: quirks mode, in which a table does not inherit the body's font size.
      const quirks = `<body style="font-size: 40px"><table><tr><td>Quirks</td></tr></table></body>`;
      const expected = {
        standards: await onFresh.render(standards, out({ format: "pdf" })),
        quirks: await onFresh.render(quirks, out({ format: "png" })),
      };
      await renderer.render(boxPage("rgb(0, 0, 255)"), out({ format: "png", width: 640, height: 480 }));
      // Each after a document of the other mode.
      expect(Buffer.compare(await renderOnSamePage(quirks), expected.quirks)).toBe(0);
      expect(Buffer.compare(await renderOnSamePage(standards, {}, "pdf"), expected.standards)).toBe(0);
      expect(Buffer.compare(await renderOnSamePage(quirks), expected.quirks)).toBe(0);
    } finally {
      await fresh.close();
    }
  });
});

async function eventually(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("BrowserPool recycling", () => {
  const pool = new BrowserPool({ maxRendersPerBrowser: 2 });
  const renderer = new ChromiumRenderer({ pool });

  afterAll(async () => {
    await pool.close();
  });

  it("retires a browser after N renders, letting renders in flight finish on it", async () => {
    // Three at once: the first two share browser one, which retires at its second render but must
    // not close under it; the third goes to a freshly launched browser.
    const renders = await Promise.all(
      [1, 2, 3].map(() => renderer.render(boxPage(), out({ format: "png" }))),
    );
    for (const bytes of renders) expect(PNG.sync.read(Buffer.from(bytes)).width).toBe(300);
    expect(pool.stats()).toMatchObject({ launches: 2, recycles: 1, crashes: 0, renders: 3, inFlight: 0 });

    await renderer.render(boxPage(), out({ format: "png" }));
    expect(pool.stats()).toMatchObject({ launches: 2, recycles: 2, renders: 4 });
    await renderer.render(boxPage(), out({ format: "png" }));
    expect(pool.stats()).toMatchObject({ launches: 3, renders: 5 });
  });

  it("retires a browser whose memory exceeds the limit", async () => {
    const lean = new BrowserPool({ maxBrowserMemoryMb: 1 });
    try {
      const leanRenderer = new ChromiumRenderer({ pool: lean });
      await leanRenderer.render(boxPage(), out({ format: "png" }));
      await leanRenderer.render(boxPage(), out({ format: "png" }));
      expect(lean.stats()).toMatchObject({ launches: 2, recycles: 2, renders: 2 });
    } finally {
      await lean.close();
    }
  });

  it("retries a failed launch", async () => {
    let calls = 0;
    const flaky = new BrowserPool({
      launchBackoffMs: 1,
      launch: async () => {
        calls += 1;
        if (calls === 1) throw new Error("Failed to launch the browser process!");
        const { launchChromium } = await import("../../functions/adapters/chromium/browser-pool.js");
        return launchChromium();
      },
    });
    try {
      const bytes = await new ChromiumRenderer({ pool: flaky }).render(boxPage(), out({ format: "png" }));
      expect(PNG.sync.read(Buffer.from(bytes)).width).toBe(300);
      expect(flaky.stats()).toMatchObject({ launches: 1, launchFailures: 1 });
    } finally {
      await flaky.close();
    }
  });
});
