import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import type { PDFDocument, PDFFont, PDFImage, PDFObject, PDFPage, PDFRef } from "@cantoo/pdf-lib";
import { PermanentRenderError } from "../../core/errors.js";
import { OUTPUT_LIMITS } from "../../core/output-options.js";
import { inPageRanges } from "../../core/page-ranges.js";
import {
  FINISHING_FAILURE_CODES,
  type FinishingPlan,
  type MergeDocument,
  type PdfFinisher,
  type PdfMerger,
  type PlannedStamp,
  STAMP_FONTS,
  type StampFont,
} from "../../core/pdf-finishing.js";
import { READINESS_CODES } from "../chromium/page-readiness.js";

export interface PdfLibFinisherOptions {
  /** The font pack's directory (its .ttf files), read when a text stamp first needs a face. */
  readonly fontDir: () => string;
}

const CONFORMANCE = { "PDF/A-2b": "2B", "PDF/A-3b": "3B" } as const;

type PdfLib = typeof import("@cantoo/pdf-lib");
let library: Promise<{ lib: PdfLib; fontkit: typeof import("@cantoo/fontkit").default }> | undefined;
/**
 * Loaded on the first PDF that needs finishing: evaluating the library took 100–140 ms here, which a
 * worker's cold start should not pay for renders that never use it.
 */
function pdfLib() {
  library ??= import("./pdf-library.chunk.mjs").then(({ pdfLib: lib, fontkit }) => ({ lib, fontkit }));
  return library;
}
/** Annotation flag Print (ISO 32000-1, 12.5.3): PDF/A wants every annotation printable. */
const ANNOTATION_PRINT = 4;

/**
 * Finishes a PDF with @cantoo/pdf-lib (a maintained fork of pdf-lib with AES-256 encryption and
 * PDF/A support): metadata into the Info dictionary and XMP, stamps, embedded files, PDF/A
 * identification with an sRGB output intent, and encryption last. pdf-lib's own name suffixes come
 * from a seeded generator, so without encryption the same plan on the same PDF gives the same bytes.
 */
export class PdfLibFinisher implements PdfFinisher {
  private readonly fonts = new Map<StampFont, Promise<Uint8Array>>();

  constructor(private readonly options: PdfLibFinisherOptions) {}

  async finish(pdf: Uint8Array, plan: FinishingPlan): Promise<Uint8Array> {
    try {
      return await this.apply(pdf, plan);
    } catch (error) {
      if (error instanceof PermanentRenderError) throw error;
      throw new PermanentRenderError(
        FINISHING_FAILURE_CODES.failed,
        `The PDF could not be finished: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private async apply(pdf: Uint8Array, plan: FinishingPlan): Promise<Uint8Array> {
    const { lib, fontkit } = await pdfLib();
    const { AFRelationship, buildFacturXDescription, FACTUR_X_EXTENSION_SCHEMA, PDFHexString } = lib;
    const doc = await lib.PDFDocument.load(pdf, { updateMetadata: false });
    doc.registerFontkit(fontkit);
    const id = PDFHexString.of(Buffer.from(plan.documentId).toString("hex").toUpperCase());
    doc.context.trailerInfo.ID = doc.context.obj([id, id]);

    await appendParts(lib, doc, plan);
    setInfo(doc, plan);
    // After the parts: stamp page ranges count the pages of the finished document.
    await this.drawStamps(lib, doc, plan.stamps);
    for (const a of plan.attachments) {
      await doc.attach(a.bytes, a.name, {
        mimeType: a.mimeType,
        ...(a.description !== undefined ? { description: a.description } : {}),
        creationDate: plan.date,
        modificationDate: plan.date,
        afRelationship: AFRelationship[a.relationship],
      });
    }
    if (plan.standard) {
      markAnnotationsPrintable(lib, doc);
      // Writes the XMP (pdfaid, dc, xmp, pdf schemas) from the Info dictionary and adds the output intent.
      doc.convertToPDFA({
        conformance: CONFORMANCE[plan.standard],
        ...(plan.facturX
          ? {
              extensions: [
                buildFacturXDescription({
                  fileName: plan.facturX.attachment,
                  version: "1.0",
                  documentType: "INVOICE",
                  conformanceLevel: plan.facturX.profile,
                }),
                FACTUR_X_EXTENSION_SCHEMA,
              ],
            }
          : {}),
      });
    } else {
      setXmp(lib, doc, plan);
    }
    if (plan.protection) {
      const { userPassword, ownerPassword, permissions } = plan.protection;
      doc.encrypt({
        algorithm: "AES-256",
        userPassword: userPassword ?? "",
        // Without an owner password anyone with the user password could lift the permissions.
        ownerPassword: ownerPassword ?? randomBytes(32).toString("base64url"),
        permissions: {
          printing: permissions.print ? "highResolution" : false,
          copying: permissions.copy,
          modifying: permissions.modify,
          annotating: permissions.annotate,
          fillingForms: permissions.annotate,
          contentAccessibility: true,
          documentAssembly: permissions.modify,
        },
      });
      // Attachments and fonts are written into the document on flush: their strings need encrypting too.
      await doc.flush();
      encryptStrings(lib, doc);
      // Every object plain in the file, its strings encrypted above (none inside object streams).
      return doc.save({ useObjectStreams: false });
    }
    return doc.save();
  }

  private async drawStamps(lib: PdfLib, doc: PDFDocument, stamps: readonly PlannedStamp[]): Promise<void> {
    const pages = doc.getPages();
    if (stamps.length === 0) return;
    // The page's own content in q … Q, so a transformation it leaves in force does not move the stamps.
    const push = doc.context.getPushGraphicsStateContentStream();
    const pop = doc.context.getPopGraphicsStateContentStream();
    for (const page of pages) page.node.wrapContentStreams(push, pop);
    for (const stamp of stamps) {
      const mark = stamp.image
        ? { kind: "image" as const, image: await embedImage(doc, stamp.image) }
        : {
            kind: "text" as const,
            font: await doc.embedFont(await this.fontBytes(stamp.font), { subset: true }),
          };
      pages.forEach((page, index) => {
        if (!inPageRanges(index + 1, stamp.pages)) return;
        // A content stream of its own, so an "under" stamp can be moved before the page's content.
        page.resetPosition();
        drawStamp(lib, page, stamp, mark);
        if (stamp.layer === "under") moveLastContentStreamFirst(lib, page);
      });
    }
  }

  private fontBytes(font: StampFont): Promise<Uint8Array> {
    let bytes = this.fonts.get(font);
    if (!bytes) {
      bytes = readFile(path.join(this.options.fontDir(), STAMP_FONTS[font])).then((b) => new Uint8Array(b));
      this.fonts.set(font, bytes);
    }
    return bytes;
  }
}

/** Appends the parts' pages in order and gives the document an outline entry per part. */
async function appendParts(lib: PdfLib, doc: PDFDocument, plan: FinishingPlan): Promise<void> {
  if (plan.parts.length === 0) return;
  await appendDocuments(
    lib,
    doc,
    plan.parts.map((part, index) => ({
      title: part.bookmark,
      name: `output.pdf.parts.${index}`,
      pdf: part.pdf,
    })),
    [{ title: plan.bookmark, page: doc.getPage(0) }],
  );
}

/**
 * Appends each document's pages in order and writes the outline: `entries` first, then one entry per
 * document at its first page. A document that cannot be read, or one that would take the result over
 * OUTPUT_LIMITS.maxPdfPages, is a PermanentRenderError naming it.
 */
async function appendDocuments(
  lib: PdfLib,
  doc: PDFDocument,
  documents: Iterable<MergeDocument> | AsyncIterable<MergeDocument>,
  entries: { title: string; page: PDFPage }[] = [],
): Promise<void> {
  const { PDFHexString, PDFName } = lib;
  for await (const document of documents) {
    let source: PDFDocument;
    try {
      source = await lib.PDFDocument.load(document.pdf, { updateMetadata: false });
    } catch (error) {
      throw new PermanentRenderError(
        FINISHING_FAILURE_CODES.assetNotPdf,
        `${document.name} could not be read as a PDF (${error instanceof Error ? error.message : String(error)}): it must be unencrypted.`,
      );
    }
    if (doc.getPageCount() + source.getPageCount() > OUTPUT_LIMITS.maxPdfPages) {
      throw new PermanentRenderError(
        READINESS_CODES.outputTooLarge,
        `With ${document.name} the PDF would have more than ${OUTPUT_LIMITS.maxPdfPages} pages.`,
      );
    }
    const pages = await doc.copyPages(source, source.getPageIndices());
    for (const page of pages) doc.addPage(page);
    if (pages[0]) entries.push({ title: document.title, page: pages[0] });
  }
  if (entries.length === 0) return;
  const context = doc.context;
  const outlineRef = context.nextRef();
  const refs = entries.map(() => context.nextRef());
  entries.forEach((entry, i) => {
    const item = context.obj({
      Title: PDFHexString.fromText(entry.title),
      Parent: outlineRef,
      Dest: [entry.page.ref, "XYZ", null, null, null],
    });
    const prev = refs[i - 1];
    const next = refs[i + 1];
    if (prev) item.set(PDFName.of("Prev"), prev);
    if (next) item.set(PDFName.of("Next"), next);
    context.assign(refs[i] as PDFRef, item);
  });
  context.assign(
    outlineRef,
    context.obj({ Type: "Outlines", First: refs[0], Last: refs[refs.length - 1], Count: refs.length }),
  );
  doc.catalog.set(PDFName.of("Outlines"), outlineRef);
  doc.catalog.set(PDFName.of("PageMode"), PDFName.of("UseOutlines"));
}

/** Joins PDFs with @cantoo/pdf-lib, as parts are joined: one outline entry per document. */
export class PdfLibMerger implements PdfMerger {
  async merge(documents: AsyncIterable<MergeDocument>): Promise<Uint8Array> {
    const { lib } = await pdfLib();
    // No metadata of its own (no dates): the same documents give the same bytes.
    const doc = await lib.PDFDocument.create({ updateMetadata: false });
    await appendDocuments(lib, doc, documents);
    return doc.save();
  }
}

function setInfo(doc: PDFDocument, plan: FinishingPlan): void {
  const m = plan.metadata;
  if (m.title !== undefined) doc.setTitle(m.title, { showInWindowTitleBar: true });
  if (m.author !== undefined) doc.setAuthor(m.author);
  if (m.subject !== undefined) doc.setSubject(m.subject);
  if (m.keywords !== undefined) doc.setKeywords([...m.keywords]);
  if (m.creator !== undefined) doc.setCreator(m.creator);
  doc.setProducer(m.producer);
  if (m.language !== undefined) doc.setLanguage(m.language);
  doc.setCreationDate(plan.date);
  doc.setModificationDate(plan.date);
}

const xml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The Info dictionary's fields as XMP (dc, xmp, pdf schemas), in the catalog's /Metadata stream. */
function setXmp(lib: PdfLib, doc: PDFDocument, plan: FinishingPlan): void {
  const title = plan.metadata.title ?? doc.getTitle();
  const m = plan.metadata;
  const date = plan.date.toISOString().replace(/\.\d{3}Z$/, "Z");
  const alt = (tag: string, value: string) =>
    `<${tag}><rdf:Alt><rdf:li xml:lang="x-default">${xml(value)}</rdf:li></rdf:Alt></${tag}>`;
  const fields = [
    title !== undefined ? alt("dc:title", title) : "",
    m.author !== undefined
      ? `<dc:creator><rdf:Seq><rdf:li>${xml(m.author)}</rdf:li></rdf:Seq></dc:creator>`
      : "",
    m.subject !== undefined ? alt("dc:description", m.subject) : "",
    m.language !== undefined
      ? `<dc:language><rdf:Bag><rdf:li>${xml(m.language)}</rdf:li></rdf:Bag></dc:language>`
      : "",
    `<dc:format>application/pdf</dc:format>`,
    m.keywords !== undefined ? `<pdf:Keywords>${xml(m.keywords.join(" "))}</pdf:Keywords>` : "",
    `<pdf:Producer>${xml(m.producer)}</pdf:Producer>`,
    m.creator !== undefined ? `<xmp:CreatorTool>${xml(m.creator)}</xmp:CreatorTool>` : "",
    `<xmp:CreateDate>${date}</xmp:CreateDate>`,
    `<xmp:ModifyDate>${date}</xmp:ModifyDate>`,
    `<xmp:MetadataDate>${date}</xmp:MetadataDate>`,
  ].filter(Boolean);
  const packet = [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">',
    ...fields,
    "</rdf:Description>",
    "</rdf:RDF>",
    "</x:xmpmeta>",
    '<?xpacket end="w"?>',
  ].join("\n");
  const stream = doc.context.stream(new TextEncoder().encode(packet), { Type: "Metadata", Subtype: "XML" });
  doc.catalog.set(lib.PDFName.of("Metadata"), doc.context.register(stream));
}

async function embedImage(doc: PDFDocument, image: NonNullable<PlannedStamp["image"]>): Promise<PDFImage> {
  return image.type === "png" ? doc.embedPng(image.bytes) : doc.embedJpg(image.bytes);
}

type Mark = { kind: "image"; image: PDFImage } | { kind: "text"; font: PDFFont };

function drawStamp(lib: PdfLib, page: PDFPage, stamp: PlannedStamp, mark: Mark): void {
  const { degrees, rgb } = lib;
  const { width: pageWidth, height: pageHeight } = page.getSize();
  let width: number;
  let height: number;
  if (mark.kind === "image") {
    const scale = stamp.width !== undefined ? stamp.width / mark.image.width : 1;
    width = mark.image.width * scale;
    height = mark.image.height * scale;
  } else {
    width = mark.font.widthOfTextAtSize(stamp.text ?? "", stamp.fontSize);
    height = mark.font.heightAtSize(stamp.fontSize, { descender: false });
  }
  // The box's centre, then the unrotated origin that puts the rotated box's centre there.
  const [horizontal, vertical] = anchor(stamp.position);
  const cx = centreAlong(horizontal, stamp.margin, width, pageWidth);
  const cy = centreAlong(vertical, stamp.margin, height, pageHeight);
  const radians = (stamp.rotation * Math.PI) / 180;
  const x = cx - ((width / 2) * Math.cos(radians) - (height / 2) * Math.sin(radians));
  const y = cy - ((width / 2) * Math.sin(radians) + (height / 2) * Math.cos(radians));
  const rotate = degrees(stamp.rotation);
  if (mark.kind === "image") {
    page.drawImage(mark.image, { x, y, width, height, rotate, opacity: stamp.opacity });
  } else {
    const hex = Number.parseInt(stamp.color.slice(1), 16);
    page.drawText(stamp.text ?? "", {
      x,
      y,
      font: mark.font,
      size: stamp.fontSize,
      rotate,
      opacity: stamp.opacity,
      color: rgb(((hex >> 16) & 255) / 255, ((hex >> 8) & 255) / 255, (hex & 255) / 255),
    });
  }
}

/** `"top-left"` → horizontal "left", vertical "top"; `"top"` → centred horizontally. */
type AxisSide = "start" | "center" | "end";

/** A position's side along each axis, horizontal then vertical; `start` is the left or the bottom. */
function anchor(position: PlannedStamp["position"]): [AxisSide, AxisSide] {
  const parts = position.split("-");
  const along = (start: string, end: string): AxisSide =>
    parts.includes(start) ? "start" : parts.includes(end) ? "end" : "center";
  return [along("left", "right"), along("bottom", "top")];
}

/** Where a box of `size` is centred along an axis of `extent`, `margin` in from the side it keeps to. */
function centreAlong(side: AxisSide, margin: number, size: number, extent: number): number {
  if (side === "start") return margin + size / 2;
  if (side === "end") return extent - margin - size / 2;
  return extent / 2;
}

function moveLastContentStreamFirst(lib: PdfLib, page: PDFPage): void {
  const contents = page.node.Contents();
  if (!(contents instanceof lib.PDFArray) || contents.size() < 2) return;
  const last = contents.get(contents.size() - 1);
  contents.remove(contents.size() - 1);
  contents.insert(0, last);
}

/**
 * pdf-lib's writer encrypts stream contents only; strings outside streams (link URIs, /Lang, the Info
 * dictionary) must be encrypted too (ISO 32000-1, 7.6.2), or readers decrypt them into garbage. The
 * encryption dictionary itself stays plain.
 */
function encryptStrings(lib: PdfLib, doc: PDFDocument): void {
  const security = doc.context.security;
  if (!security) return;
  const encryptDictionary = doc.context.trailerInfo.Encrypt;
  for (const [ref, object] of doc.context.enumerateIndirectObjects()) {
    if (encryptDictionary instanceof lib.PDFRef && ref.objectNumber === encryptDictionary.objectNumber)
      continue;
    const encrypt = security.getEncryptFn(ref.objectNumber, ref.generationNumber);
    encryptStringsIn(lib, object instanceof lib.PDFStream ? object.dict : object, encrypt);
  }
}

function encryptStringsIn(lib: PdfLib, object: PDFObject, encrypt: (bytes: Uint8Array) => Uint8Array): void {
  const { PDFArray, PDFDict, PDFHexString, PDFString } = lib;
  /** The encrypted string, or undefined after encrypting the strings inside a container in place. */
  const encrypted = (value: PDFObject): PDFObject | undefined => {
    if (value instanceof PDFString || value instanceof PDFHexString) {
      return PDFHexString.fromBytes(encrypt(value.asBytes()));
    }
    encryptStringsIn(lib, value, encrypt);
    return undefined;
  };
  if (object instanceof PDFDict) {
    for (const [key, value] of object.entries()) {
      const replaced = encrypted(value);
      if (replaced) object.set(key, replaced);
    }
  } else if (object instanceof PDFArray) {
    for (let i = 0; i < object.size(); i++) {
      const replaced = encrypted(object.get(i));
      if (replaced) object.set(i, replaced);
    }
  }
}

function markAnnotationsPrintable(lib: PdfLib, doc: PDFDocument): void {
  const { PDFDict, PDFName, PDFNumber } = lib;
  for (const page of doc.getPages()) {
    const annots = page.node.Annots();
    if (!annots) continue;
    for (let i = 0; i < annots.size(); i++) {
      const annot = annots.lookup(i);
      if (!(annot instanceof PDFDict)) continue;
      const flags = annot.lookup(PDFName.of("F"));
      const value = flags instanceof PDFNumber ? flags.asNumber() : 0;
      annot.set(PDFName.of("F"), PDFNumber.of(value | ANNOTATION_PRINT));
    }
  }
}
