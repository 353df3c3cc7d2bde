import { afterAll, describe, expect, it } from "vitest";
import { BrowserPool } from "../../functions/adapters/chromium/browser-pool.js";
import { ChromiumRenderer } from "../../functions/adapters/chromium/chromium-renderer.js";
import { OutputOptionsSchema } from "../../functions/core/output-options.js";
import { prepareDocument } from "../../functions/core/prepare-document.js";
import { chromiumPrintDate } from "../../functions/core/print-date.js";
import { parseOrThrow } from "../../functions/core/render-request.js";
import { readPdf } from "./helpers/pdf-text.js";

const job = (clock?: string) => ({
  template: { html: "<!doctype html><title>Invoice</title><p>Invoice {{ n }}</p>" },
  data: { n: "INV-7" },
  output: parseOrThrow(OutputOptionsSchema, {
    format: "pdf",
    pdf: {
      pageSize: "a6",
      margin: { top: "15mm", bottom: "15mm" },
      headerTemplate: '<div style="font-size: 9px">Printed <span class="date"></span></div>',
      footerTemplate:
        '<div style="font-size: 9px"><b class="date small"></b> · <span class="title"></span> · <span class="pageNumber"></span>/<span class="totalPages"></span></div>',
    },
  }),
  ...(clock ? { clock } : {}),
});

describe("a PDF header and footer date (real Chromium)", () => {
  const pool = new BrowserPool();
  const renderer = new ChromiumRenderer({ pool, timeoutMs: 15_000 });

  afterAll(async () => {
    await pool.close();
  });

  const render = async (clock?: string) => {
    const doc = await prepareDocument({}, "acme", job(clock));
    return renderer.render(doc.html, doc.output, doc.page);
  };

  it("is the job's clock, so the same job gives the same bytes", async () => {
    const clock = "2026-01-02T00:05:00.000Z";
    const first = await render(clock);
    await renderer.render("<p>another document in between</p>", job().output);
    const second = await render(clock);

    expect(Buffer.compare(first, second)).toBe(0);
    const { text } = await readPdf(first);
    expect(text).toHaveLength(1);
    expect(text[0]).toContain("Printed 1/2/26, 12:05 AM");
    expect(text[0]).toContain("1/2/26, 12:05 AM · Invoice · 1/1");
  });

  it("is Chromium's time of printing without a clock, written as Kiln writes a clock", async () => {
    const before = new Date().toISOString();
    const bytes = await render();
    const after = new Date().toISOString();
    const { text } = await readPdf(bytes);
    const header = /Printed (.+)/.exec(text[0] ?? "")?.[1];
    // The minute may turn during the render.
    expect([chromiumPrintDate(before), chromiumPrintDate(after)]).toContain(header);
  });

  it("is written in en-US whatever locale the host's LANG names", async () => {
    const german = new BrowserPool();
    const lang = process.env.LANG;
    process.env.LANG = "de_DE.UTF-8";
    try {
      const doc = await prepareDocument({}, "acme", job());
      const before = new Date().toISOString();
      const bytes = await new ChromiumRenderer({ pool: german, timeoutMs: 15_000 }).render(
        doc.html,
        doc.output,
        doc.page,
      );
      const after = new Date().toISOString();
      const header = /Printed (.+)/.exec((await readPdf(bytes)).text[0] ?? "")?.[1];
      // Chromium launched under LANG=de_DE would write "22.11.26, 06:21".
      expect([chromiumPrintDate(before), chromiumPrintDate(after)]).toContain(header);
    } finally {
      if (lang === undefined) delete process.env.LANG;
      else process.env.LANG = lang;
      await german.close();
    }
  });
});
