/**
 * The PDF finisher on real PDFs, read back with PDF.js (and pdf-lib for the encryption dictionary):
 * metadata in Info and XMP, stamps on the pages asked for, attachments, AES-256 with permissions,
 * PDF/A identification and output intent, and equal bytes for equal input.
 */
import { PDFDict, PDFDocument, PDFName, type PDFNumber, StandardFonts } from "@cantoo/pdf-lib";
import { getDocument, type PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import { beforeAll, describe, expect, it } from "vitest";
import { fontPackDir } from "../../functions/adapters/chromium/fonts.js";
import { PdfLibFinisher } from "../../functions/adapters/pdf/pdf-lib-finisher.js";
import { OUTPUT_LIMITS } from "../../functions/core/output-options.js";
import { planFinishing } from "../../functions/core/pdf-finishing.js";
import { parseOrThrow, RenderSubmissionSchema } from "../../functions/core/render-request.js";
import { readPdf } from "./helpers/pdf-text.js";

const finisher = new PdfLibFinisher({ fontDir: fontPackDir });
let source: Uint8Array;

beforeAll(async () => {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const n of [1, 2, 3]) doc.addPage([595, 842]).drawText(`Body of page ${n}`, { x: 50, y: 780, font });
  source = await doc.save();
});

async function finish(
  pdf: Record<string, unknown>,
  clock?: string,
  parts: ReadonlyMap<number, Uint8Array> = new Map(),
): Promise<Uint8Array> {
  const request = parseOrThrow(RenderSubmissionSchema, {
    template: { html: "<p>x</p>" },
    output: { format: "pdf", pdf },
    ...(clock ? { clock } : {}),
  });
  const options = request.output.pdf ?? {};
  return finisher.finish(source, await planFinishing(undefined, "t", options, source, request.clock, parts));
}

/** Opens the PDF with PDF.js for the length of `read`. */
async function withPdf<T>(
  bytes: Uint8Array,
  read: (doc: PDFDocumentProxy) => Promise<T>,
  password?: string,
): Promise<T> {
  const task = getDocument({ data: new Uint8Array(bytes), verbosity: 0, ...(password ? { password } : {}) });
  try {
    return await read(await task.promise);
  } finally {
    await task.destroy();
  }
}

describe("PdfLibFinisher", () => {
  it("writes metadata into the Info dictionary and XMP, with the document language", async () => {
    const bytes = await finish(
      {
        metadata: {
          title: "Specimen policy",
          author: "Kiln Insurance",
          subject: "Home",
          keywords: ["policy", "specimen"],
          creator: "Kiln test",
          language: "en-GB",
        },
      },
      "2026-11-20T09:00:00Z",
    );
    const { info, metadata } = await withPdf(bytes, (doc) => doc.getMetadata());
    expect(info).toMatchObject({
      Title: "Specimen policy",
      Author: "Kiln Insurance",
      Subject: "Home",
      Keywords: "policy specimen",
      Creator: "Kiln test",
      Producer: "Kiln",
      Language: "en-GB",
      CreationDate: "D:20261120090000Z",
    });
    expect(metadata?.get("dc:title")).toBe("Specimen policy");
    expect(metadata?.get("dc:creator")).toEqual(["Kiln Insurance"]);
    expect(metadata?.get("pdf:producer")).toBe("Kiln");
  });

  it("gives the same bytes for the same input", async () => {
    const options = {
      metadata: { title: "T" },
      stamps: [{ text: "COPY" }],
      attachments: [{ name: "a.txt", content: "a", mimeType: "text/plain" }],
    };
    expect(Buffer.from(await finish(options)).equals(Buffer.from(await finish(options)))).toBe(true);
  });

  it("stamps text on the pages asked for, with an embedded face of the font pack", async () => {
    const bytes = await finish({
      stamps: [
        { text: "SPECIMEN", rotation: 0, opacity: 0.3 },
        {
          text: "DRAFT",
          pages: "2-",
          layer: "under",
          position: "top-right",
          fontSize: 12,
          font: "Noto Serif",
        },
      ],
    });
    const { text } = await readPdf(bytes);
    expect(text.map((t) => t.includes("SPECIMEN"))).toEqual([true, true, true]);
    expect(text.map((t) => t.includes("DRAFT"))).toEqual([false, true, true]);
    expect(text[0]).toContain("Body of page 1");
    const doc = await PDFDocument.load(bytes);
    const fonts = doc.context
      .enumerateIndirectObjects()
      .map(([, o]) => o)
      .filter(
        (o): o is PDFDict =>
          o instanceof PDFDict && o.get(PDFName.of("Type")) === PDFName.of("FontDescriptor"),
      );
    expect(fonts.some((f) => f.has(PDFName.of("FontFile2")))).toBe(true);
  });

  it("embeds attachments with their MIME type, description and relationship", async () => {
    const bytes = await finish({
      attachments: [
        {
          name: "data.csv",
          content: "a,b\n1,2\n",
          mimeType: "text/csv",
          description: "Figures",
          relationship: "Data",
        },
      ],
    });
    const names = await withPdf(bytes, async (doc) => [...((await doc.getAttachments())?.keys() ?? [])]);
    expect(names).toEqual(["data.csv"]);
    const [saved] = (await PDFDocument.load(bytes)).getAttachments();
    expect(Buffer.from(saved?.data ?? []).toString()).toBe("a,b\n1,2\n");
    expect(saved).toMatchObject({ mimeType: "text/csv", description: "Figures", afRelationship: "Data" });
  });

  it("encrypts with AES-256 (V 5, R 6): the user password opens it, with the permissions asked for", async () => {
    const bytes = await finish({
      metadata: { title: "Locked", language: "en-GB" },
      attachments: [{ name: "data.csv", content: "a", mimeType: "text/csv" }],
      protection: { userPassword: "specimen", permissions: { print: true, copy: false } },
    });
    await expect(withPdf(bytes, async () => undefined)).rejects.toMatchObject({ name: "PasswordException" });
    const { pages, permissions, info, attachments } = await withPdf(
      bytes,
      async (doc) => ({
        pages: doc.numPages,
        permissions: (await doc.getPermissions()) ?? [],
        info: (await doc.getMetadata()).info,
        attachments: [...((await doc.getAttachments())?.keys() ?? [])],
      }),
      "specimen",
    );
    expect(pages).toBe(3);
    // Strings outside streams (Info, /Lang, file names) are encrypted too, so they read back whole.
    expect(info).toMatchObject({ Title: "Locked", Language: "en-GB" });
    expect(attachments).toEqual(["data.csv"]);
    // PDF.js lists the granted flags: print (4) and accessibility extraction (512), not copy (16).
    expect(permissions).toContain(4);
    expect(permissions).not.toContain(16);
    expect(permissions).not.toContain(8);
    const raw = await PDFDocument.load(bytes, { ignoreEncryption: true });
    const encrypt = raw.context.lookup(raw.context.trailerInfo.Encrypt, PDFDict);
    expect((encrypt.get(PDFName.of("V")) as PDFNumber).asNumber()).toBe(5);
    expect((encrypt.get(PDFName.of("R")) as PDFNumber).asNumber()).toBe(6);
    // Two encryptions of one input differ (random salts and IVs): nothing to replay.
    expect(
      Buffer.from(bytes).equals(Buffer.from(await finish({ protection: { userPassword: "specimen" } }))),
    ).toBe(false);
  });

  it("appends parts with their own page size and gives each an outline entry", async () => {
    const landscape = await PDFDocument.create();
    landscape.addPage([842, 595]);
    landscape.addPage([842, 595]);
    const bytes = await finish(
      {
        bookmark: "Body",
        parts: [{ bookmark: "Annex", template: { html: "<p>annex</p>" } }],
        stamps: [{ text: "LAST", pages: "5-" }],
      },
      undefined,
      new Map([[0, await landscape.save()]]),
    );
    const { pages, sizes, text } = await readPdf(bytes);
    expect(pages).toBe(5);
    expect(sizes.slice(3)).toEqual([
      { width: 842, height: 595 },
      { width: 842, height: 595 },
    ]);
    // Stamp ranges count the pages of the merged document.
    expect(text.map((t) => t.includes("LAST"))).toEqual([false, false, false, false, true]);
    const outline = await withPdf(bytes, async (doc) => {
      const items = (await doc.getOutline()) ?? [];
      return Promise.all(
        items.map(async (item) => ({
          title: item.title,
          page: await doc.getPageIndex((item.dest as [{ num: number; gen: number }])[0]),
        })),
      );
    });
    expect(outline).toEqual([
      { title: "Body", page: 0 },
      { title: "Annex", page: 3 },
    ]);
  });

  it("fails with output_too_large when the parts would take the PDF past the page limit", async () => {
    const long = await PDFDocument.create();
    for (let n = 0; n < OUTPUT_LIMITS.maxPdfPages - 2; n++) long.addPage([100, 100]);
    const parts = { parts: [{ bookmark: "Long", template: { html: "<p>x</p>" } }] };
    await expect(finish(parts, undefined, new Map([[0, await long.save()]]))).rejects.toMatchObject({
      code: "output_too_large",
      message: expect.stringContaining("output.pdf.parts.0"),
    });
    long.removePage(0);
    expect(await readPdf(await finish(parts, undefined, new Map([[0, await long.save()]])))).toMatchObject({
      pages: OUTPUT_LIMITS.maxPdfPages,
    });
  });

  it("marks PDF/A-3b in XMP and adds an sRGB output intent and the attachment's /AF entry", async () => {
    const bytes = await finish({
      standard: "PDF/A-3b",
      metadata: { title: "Invoice" },
      attachments: [
        { name: "factur-x.xml", content: "<x/>", mimeType: "text/xml", relationship: "Alternative" },
      ],
    });
    const { metadata } = await withPdf(bytes, (doc) => doc.getMetadata());
    expect(metadata?.get("pdfaid:part")).toBe("3");
    expect(metadata?.get("pdfaid:conformance")).toBe("B");
    const raw = await PDFDocument.load(bytes);
    const intents = raw.catalog.lookup(PDFName.of("OutputIntents"));
    const intent = (intents as unknown as { lookup(i: number): PDFDict }).lookup(0);
    expect(intent.get(PDFName.of("S"))).toBe(PDFName.of("GTS_PDFA1"));
    expect(intent.has(PDFName.of("DestOutputProfile"))).toBe(true);
    expect(raw.catalog.has(PDFName.of("AF"))).toBe(true);
  });
});
