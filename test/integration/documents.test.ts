import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadJobDirectory } from "../../bin/commands/job-directory.js";
import {
  KilnApiError,
  type KilnClient,
  type RenderSubmissionInput,
} from "../../functions/client/kiln-client.js";
import type { JobView } from "../../functions/core/job-view.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";
import { eventually, gate, startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";
import { readPdf } from "./helpers/pdf-text.js";

/**
 * Documents on the local stack with real Chromium: the examples, versioned templates with schemas,
 * assets signed at render time, the font pack, output options and determinism.
 */

const ASSET_TTL_SECONDS = 60;
/** Added to the real time by the stack's clock: the test moves time forward without sleeping. */
let clockOffsetMs = 0;
const edgeLog: Array<{ key: string; status: number; expires?: number }> = [];
const hold = gate();
let t: TestStack;
/** Outputs are kept here for a person to look at: out/test-documents/<name>. */
const outDir = join(REPO_ROOT, "out", "test-documents");

beforeAll(async () => {
  await mkdir(outDir, { recursive: true });
  t = await startTestStack({
    clock: { now: () => new Date(Date.now() + clockOffsetMs) },
    assetUrlTtlSeconds: ASSET_TTL_SECONDS,
    // One lane: a job held at the worker keeps the next one waiting in the queue.
    workerConcurrency: 1,
    renderConcurrency: 1,
    batchSize: 1,
    onEdgeRequest: (e) => edgeLog.push(e),
    faults: {
      beforeRender: async (html) => {
        if (html.includes("data-hold")) await hold.opened;
        return undefined;
      },
    },
  });
});

afterAll(async () => {
  hold.open();
  await t?.stop();
});

const example = (name: string) => join(REPO_ROOT, "examples", name);
const readJob = async (name: string) => JSON.parse(await readFile(join(example(name), "job.json"), "utf8"));

async function render(
  client: KilnClient,
  job: unknown,
  name?: string,
): Promise<{ job: JobView; bytes: Uint8Array }> {
  const submitted = await client.submitRender(job as RenderSubmissionInput);
  const done = await client.waitFor(submitted.id, { timeoutMs: 60_000 });
  if (done.status !== "succeeded") throw new Error(`job failed: ${done.error?.code}: ${done.error?.message}`);
  const bytes = await client.download(done);
  if (name) await writeFile(join(outDir, name), bytes);
  return { job: done, bytes };
}

async function failure(client: KilnClient, job: unknown) {
  const submitted = await client.submitRender(job as RenderSubmissionInput);
  const done = await client.waitFor(submitted.id, { timeoutMs: 60_000 });
  expect(done.status).toBe("failed");
  return done.error ?? { code: "", message: "" };
}

async function refusal(call: Promise<unknown>) {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KilnApiError);
  const body = (err as KilnApiError).body as {
    error: { code: string; message: string; fields?: Array<{ field: string; message: string }> };
  };
  return { status: (err as KilnApiError).status, ...body.error, fields: body.error.fields ?? [] };
}

/** Pixels of `png` inside the rectangle that satisfy `test`. */
function count(
  png: PNG,
  rect: { x: number; y: number; w: number; h: number },
  test: (r: number, g: number, b: number) => boolean,
) {
  let n = 0;
  for (let y = rect.y; y < rect.y + rect.h; y++) {
    for (let x = rect.x; x < rect.x + rect.w; x++) {
      const i = (y * png.width + x) * 4;
      if (test(png.data[i] ?? 0, png.data[i + 1] ?? 0, png.data[i + 2] ?? 0)) n++;
    }
  }
  return n;
}

describe("examples", () => {
  it("renders the invoice as an A4 PDF with its data, header and footer on every page", async () => {
    const { job, bytes } = await render(t.clientA, await readJob("invoice"), "invoice.pdf");
    expect(job.output?.contentType).toBe("application/pdf");
    const pdf = await readPdf(bytes);
    expect(pdf.pages).toBe(2);
    const all = pdf.text.join("\n");
    for (const field of ["Ada Lovelace", "KLN-2026-0042", "Kiln Supply Co.", "NL91 ABNA 0417 1643 00"]) {
      expect(all).toContain(field);
    }
    expect(pdf.text[0]).toMatch(/Page 1 of 2/);
    expect(pdf.text[1]).toMatch(/Page 2 of 2/);
    expect(pdf.text[1]).toMatch(/Total due/);
  });

  it("renders the certificate at 2× with its web font, signature and seal from the tenant's assets", async () => {
    const uploaded = await uploadJobDirectory(t.clientA, example("certificate"));
    expect(uploaded.templates).toEqual([{ id: "certificate", version: 1, created: true }]);
    const { bytes } = await render(t.clientA, await readJob("certificate"), "certificate.png");
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([2246, 1588]);
    // Every asset came through the edge with a signature; none was refused.
    for (const key of ["great-vibes-latin-400.woff2", "signature.svg", "seal.svg"]) {
      expect(
        edgeLog.filter((e) => e.key === `assets/${TENANT_A.tenant}/certificate/${key}`).map((e) => e.status),
      ).toContain(200);
    }
    // The seal's gold is drawn in the middle of the footer.
    expect(
      count(png, { x: 1040, y: 1260, w: 160, h: 160 }, (r, g, b) => r > 170 && g > 120 && b < 90),
    ).toBeGreaterThan(2000);
    // The signature's ink, above the signer's line on the right.
    expect(
      count(png, { x: 1620, y: 1250, w: 500, h: 160 }, (r, g, b) => r < 80 && g < 90 && b < 120),
    ).toBeGreaterThan(500);
  });

  it("renders the social card with CJK and colour emoji glyphs from the font pack", async () => {
    await uploadJobDirectory(t.clientA, example("social-card"));
    const { bytes } = await render(t.clientA, await readJob("social-card"), "social-card.png");
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([1200, 630]);
    // #title holds Japanese, Korean and Chinese in light text on #101828: plenty of ink.
    const ink = count(png, { x: 72, y: 196, w: 1056, h: 180 }, (r, g, b) => r + g + b > 450);
    expect(ink).toBeGreaterThan(15_000);
    // #emoji: colour glyphs, so saturated pixels (text is grey or white, the background dark blue).
    const colourful = count(
      png,
      { x: 72, y: 400, w: 600, h: 96 },
      (r, g, b) => Math.max(r, g, b) - Math.min(r, g, b) > 90,
    );
    expect(colourful).toBeGreaterThan(3_000);
  });
});

describe("determinism", () => {
  it("gives the same sha256 for the same PNG and the same PDF job rendered twice", async () => {
    // The certificate's 92 px script name at 2× is drawn as paths: the case GPU raster got wrong.
    for (const name of ["social-card", "invoice", "certificate"]) {
      const job = await readJob(name);
      const first = await render(t.clientA, job);
      const second = await render(t.clientA, job);
      expect(second.job.id).not.toBe(first.job.id);
      expect(second.job.output?.sha256, name).toBe(first.job.output?.sha256);
      expect(Buffer.from(second.bytes).equals(Buffer.from(first.bytes)), name).toBe(true);
    }
  });

  it("freezes the page's clock at the job's instant", async () => {
    const html = `<p id="now"></p><script>document.getElementById("now").textContent = "NOW=" + new Date().toISOString() + " " + Date.now();</script>`;
    const { bytes } = await render(t.clientA, {
      template: { html },
      output: { format: "pdf" },
      clock: "2026-01-01T00:00:00Z",
      javascript: true,
    });
    expect((await readPdf(bytes)).text[0]).toContain("NOW=2026-01-01T00:00:00.000Z 1767225600000");
  });
});

describe("assets are signed when the job renders, not when it is submitted", () => {
  it("renders a job that waited in the queue longer than the URL lifetime, with a URL minted after it was dequeued", async () => {
    await t.clientA.putAsset(
      "tests/green.svg",
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#00c000"/></svg>',
      ),
      "image/svg+xml",
    );
    // The only lane is busy with a held job, so the next one stays queued.
    const holder = await t.clientA.submitRender({
      template: { html: "<p data-hold>hold</p>" },
      output: { format: "png", width: 50, height: 50 },
    });
    await eventually(
      async () => ((await t.clientA.getRender(holder.id)).status === "rendering" ? true : undefined),
      "the held job rendering",
    );
    const submittedAt = Date.now() + clockOffsetMs;
    const waiting = await t.clientA.submitRender({
      template: {
        html: `<img src="{{ 'dot' | asset_url }}" style="display:block;margin:0;width:100px;height:100px">`.replace(
          "<img",
          '<body style="margin:0"><img',
        ),
      },
      assets: { dot: "tests/green.svg" },
      output: { format: "png", width: 100, height: 100 },
    });
    expect((await t.clientA.getRender(waiting.id)).status).toBe("queued");

    // An hour passes while it waits: far beyond the 60 s lifetime of any URL minted at submission.
    clockOffsetMs += 3_600_000;
    hold.open();
    const done = await t.clientA.waitFor(waiting.id, { timeoutMs: 60_000 });
    expect(done.status).toBe("succeeded");
    const png = PNG.sync.read(Buffer.from(await t.clientA.download(done)));
    expect(count(png, { x: 0, y: 0, w: 100, h: 100 }, (r, g, b) => g > 150 && r < 40 && b < 40)).toBe(10_000);

    const fetched = edgeLog.filter((e) => e.key === `assets/${TENANT_A.tenant}/tests/green.svg`);
    expect(fetched.map((e) => e.status)).toEqual([200]);
    // The URL expires a TTL or more after the dequeue, so it was minted after the hour had passed.
    expect((fetched[0]?.expires ?? 0) * 1000).toBeGreaterThan(
      submittedAt + 3_600_000 + ASSET_TTL_SECONDS * 1000 - 1000,
    );
  });
});

describe("clear errors", () => {
  it("refuses a template with a Liquid syntax error, naming the line", async () => {
    const err = await refusal(
      t.clientA.createTemplate({
        id: "broken",
        html: "<h1>{{ title }}</h1>\n<p>{% for x in items %}{{ x }}</p>",
      }),
    );
    expect(err.status).toBe(400);
    expect(err.fields).toEqual([
      { field: "html", message: expect.stringMatching(/not closed \(line 2, column 4\)$/) },
    ]);
  });

  it("refuses an inline template with a Liquid syntax error at submission, naming template.html and the line", async () => {
    const err = await refusal(
      t.clientA.submitRender({
        template: { html: "<h1>{{ title }}</h1>\n<p>{{ total </p>" },
        output: { format: "png" },
      }),
    );
    expect(err.status).toBe(400);
    expect(err.fields).toEqual([
      { field: "template.html", message: expect.stringMatching(/not closed \(line 2, column 4\)$/) },
    ]);
  });

  it("refuses data that violates the template version's schema, naming each field", async () => {
    const job = await readJob("certificate");
    const err = await refusal(
      t.clientA.submitRender({
        ...job,
        data: { ...job.data, recipient: "", issued: "20 November", signer: { name: "C. Babbage" }, extra: 1 },
      }),
    );
    expect(err.status).toBe(400);
    expect(err.fields.map((f) => f.field).sort()).toEqual([
      "data.extra",
      "data.issued",
      "data.recipient",
      "data.signer.title",
    ]);
  });

  it('names the version precisely and never renders "latest"; other tenants\' templates do not exist', async () => {
    const job = await readJob("certificate");
    expect(
      (await refusal(t.clientA.submitRender({ ...job, template: { id: "certificate", version: "latest" } })))
        .fields[0]?.field,
    ).toBe("template.version");
    expect(
      (await refusal(t.clientA.submitRender({ ...job, template: { id: "certificate", version: 9 } })))
        .fields[0]?.message,
    ).toMatch(/no version 9 \(the latest is 1\)/);
    expect((await refusal(t.clientB.submitRender(job))).fields[0]).toEqual({
      field: "template.id",
      message: "there is no template certificate",
    });
    expect((await refusal(t.clientB.getTemplate("certificate"))).status).toBe(404);
    expect((await t.clientA.getTemplate("certificate")).versions.map((v) => v.version)).toEqual([1]);
  });

  it("fails a job whose asset is missing before rendering, naming the asset", async () => {
    const error = await failure(t.clientA, {
      template: { html: `<img src="{{ 'logo' | asset_url }}">` },
      assets: { logo: "brand/nope.png" },
      output: { format: "png", width: 50, height: 50 },
    });
    expect(error.code).toBe("asset_missing");
    expect(error.message).toContain('"logo" (brand/nope.png)');
  });

  it("fails a job whose image cannot be loaded with the URL (without any signature), unless it opts out", async () => {
    const url = `${t.stack.edgeUrl}/assets/${TENANT_A.tenant}/tests/unsigned.png`;
    const job = {
      template: { html: `<img alt="logo" src="${url}?x=1">` },
      output: { format: "png", width: 50, height: 50 },
    };
    const error = await failure(t.clientA, job);
    expect(error.code).toBe("resource_failed");
    expect(error.message).toContain(`"logo" from ${url} (HTTP 403)`);
    expect(error.message).not.toContain("x=1");
    await render(t.clientA, { ...job, resourceErrors: "ignore" });
  });

  it("fails a job whose waitFor never comes true, and answers 400 for outputs over the limits", async () => {
    const error = await failure(t.clientA, {
      template: { html: "<p>never ready</p>" },
      waitFor: { selector: "#ready", timeoutMs: 200 },
      output: { format: "png", width: 50, height: 50 },
    });
    expect(error).toMatchObject({ code: "wait_timeout", message: expect.stringContaining('"#ready"') });
    const tooBig = await refusal(
      t.clientA.submitRender({
        template: { html: "x" },
        output: { format: "png", width: 4096, height: 4096, dpi: 192 },
      }),
    );
    expect(tooBig.fields[0]?.field).toBe("output.width");
  });
});

describe("output options", () => {
  it("captures an element, the full page, or a transparent background", async () => {
    const page = `<style>body{margin:0}#box{position:absolute;left:30px;top:700px;width:120px;height:60px;background:#1040c0}</style><div style="height:1500px"></div><div id="box"></div>`;
    const element = PNG.sync.read(
      Buffer.from(
        (
          await render(t.clientA, {
            template: { html: page },
            output: { format: "png", width: 400, height: 300, scale: 2, selector: "#box" },
          })
        ).bytes,
      ),
    );
    expect([element.width, element.height]).toEqual([240, 120]);
    expect(count(element, { x: 0, y: 0, w: 240, h: 120 }, (r, _g, b) => b > 150 && r < 40)).toBe(240 * 120);

    const full = PNG.sync.read(
      Buffer.from(
        (
          await render(t.clientA, {
            template: { html: page },
            output: { format: "png", width: 400, height: 300, fullPage: true },
          })
        ).bytes,
      ),
    );
    expect([full.width, full.height]).toEqual([400, 1500]);

    const clear = PNG.sync.read(
      Buffer.from(
        (
          await render(t.clientA, {
            template: { html: '<div style="width:20px;height:20px;background:red"></div>' },
            output: { format: "png", width: 60, height: 60, transparent: true },
          })
        ).bytes,
      ),
    );
    expect(clear.data[(40 * 60 + 40) * 4 + 3]).toBe(0);
    expect(clear.data[(10 * 60 + 10) * 4 + 3]).toBe(255);
  });

  it("waits for an expression before capture", async () => {
    const html = `<p id="out">pending</p><script>setTimeout(() => { document.getElementById("out").textContent = "READY-42"; window.done = true; }, 150);</script>`;
    const { bytes } = await render(t.clientA, {
      template: { html },
      waitFor: { expression: "window.done === true" },
      javascript: true,
      output: { format: "pdf" },
    });
    expect((await readPdf(bytes)).text[0]).toContain("READY-42");
  });

  it("lays out PDFs: paper size, orientation, margins, page ranges", async () => {
    const html = `<style>section{height:50mm;break-after:page}</style>${[1, 2, 3].map((n) => `<section>SECTION-${n}</section>`).join("")}`;
    const { bytes } = await render(t.clientA, {
      template: { html },
      output: {
        format: "pdf",
        pdf: {
          pageSize: "Letter",
          landscape: true,
          margin: { top: "10mm", bottom: "10mm" },
          pageRanges: "2-3",
        },
      },
    });
    const pdf = await readPdf(bytes);
    expect(pdf.pages).toBe(2);
    expect(pdf.text[0]).toContain("SECTION-2");
    expect(pdf.sizes[0]).toEqual({ width: 792, height: 612 });
  });
});
