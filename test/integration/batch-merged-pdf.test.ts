import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KilnApiError } from "../../functions/client/kiln-client.js";
import type { BatchManifest } from "../../functions/core/batches.js";
import { runKiln } from "./helpers/kiln-cli.js";
import { startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";
import { readPdf } from "./helpers/pdf-text.js";

/** A batch's merged PDF on the local stack: built once every record ended, in record order. */

let ts: TestStack;
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-merged-"));
  ts = await startTestStack();
}, 120_000);
afterAll(async () => {
  await ts?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function outlineTitles(bytes: Uint8Array): Promise<Array<{ title: string; page: number }>> {
  const task = getDocument({ data: new Uint8Array(bytes), verbosity: 0 });
  try {
    const doc = await task.promise;
    const items = (await doc.getOutline()) ?? [];
    return Promise.all(
      items.map(async (item) => ({
        title: item.title,
        page: await doc.getPageIndex((item.dest as [{ num: number; gen: number }])[0]),
      })),
    );
  } finally {
    await task.destroy();
  }
}

describe("batch merged PDF", () => {
  it("joins the records' PDFs in record order with a bookmark each, leaving a failed record out and listing it", async () => {
    const templatePath = join(dir, "letter.html");
    const recordsPath = join(dir, "letters.jsonl");
    const out = join(dir, "out");
    const mergedPath = join(dir, "letters.pdf");
    // Record 2 names an image that cannot load: its render fails (resourceErrors defaults to fail).
    await writeFile(
      templatePath,
      '<p>Letter number {{ n }}</p>{% if img %}<img alt="x" src="{{ img }}">{% endif %}',
    );
    const broken = "data:image/png;base64,bm90IGFuIGltYWdl";
    const lines = [0, 1, 2, 3].map((n) => JSON.stringify(n === 2 ? { n, img: broken } : { n }));
    await writeFile(recordsPath, `${lines.join("\n")}\n`);

    const { code, stdout, stderr } = await runKiln(
      ["batch", templatePath, recordsPath, "--format", "pdf", "--merged", mergedPath, "--out", out],
      { KILN_API_URL: ts.stack.apiUrl, KILN_API_KEY: TENANT_A.apiKey, KILN_DATA_DIR: join(dir, "unused") },
    );
    expect(code, stderr).toBe(1);
    expect(stdout).toContain("partially_failed: 3 succeeded, 1 failed");
    expect(stderr).toContain(`merged PDF written to ${mergedPath}`);

    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as BatchManifest;
    expect(manifest.mergedPdf).toEqual({ file: "merged.pdf", records: [0, 1, 3], omitted: [2] });
    expect(manifest.entries[2]?.error?.code).toBe("render_failed");

    const merged = new Uint8Array(await readFile(mergedPath));
    const pdf = await readPdf(merged);
    expect(pdf.pages).toBe(3);
    expect(pdf.text.map((t) => t.trim())).toEqual(["Letter number 0", "Letter number 1", "Letter number 3"]);
    expect(await outlineTitles(merged)).toEqual([
      { title: "Record 0", page: 0 },
      { title: "Record 1", page: 1 },
      { title: "Record 3", page: 2 },
    ]);
    // Each record's own PDF is still there beside the merged one.
    expect((await readPdf(new Uint8Array(await readFile(join(out, "1.pdf"))))).text[0]?.trim()).toBe(
      "Letter number 1",
    );

    const view = await ts.clientA.getBatch(manifest.batchId);
    expect(view.mergedPdf).toMatchObject({ state: "ready", bytes: merged.byteLength });
  }, 120_000);

  it("refuses mergePdf for a batch that does not render PDFs, naming the field", async () => {
    const refusal = await ts.clientA
      .submitBatch({
        template: { html: "<p>{{ n }}</p>" },
        records: [{ n: 1 }],
        output: { format: "png" },
        mergePdf: true,
      })
      .catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(KilnApiError);
    expect((refusal as KilnApiError).status).toBe(400);
    expect((refusal as KilnApiError).fields).toEqual([
      { field: "mergePdf", message: 'applies only to output.format "pdf" (this batch renders png)' },
    ]);
  });
});
