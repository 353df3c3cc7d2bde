import { createHash } from "node:crypto";
import { z } from "zod";
import { ASSET_MISSING, AssetKeySchema, AssetRefsSchema, assetObjectKey } from "./assets.js";
import { PermanentRenderError, ValidationError } from "./errors.js";
import { PAGE_RANGES, type PageRange, parsePageRanges } from "./page-ranges.js";
import { type PdfMetadata, PdfMetadataSchema, boundedText as text } from "./pdf-metadata.js";
import { checkRenderTemplate, type TemplateDeps, type TemplateRef, TemplateRefSchema } from "./templates.js";

/**
 * PDF finishing: what Kiln does to Chromium's PDF after the render — document metadata, stamps,
 * attached files, password protection and PDF/A. Core holds the request schema, the checks that need
 * more than one field, and the plan the worker hands to a `PdfFinisher` (adapters/pdf/). The plan is a
 * pure function of the request, so the same request gives the same finished bytes (except encryption,
 * whose salts and IVs must be random).
 */
export const PDF_FINISHING_LIMITS = {
  stampsPerJob: 10,
  attachmentsPerJob: 10,
  /** Inline `content` of one attachment, decoded; larger files go in as assets (up to `assetBytes`). */
  inlineAttachmentBytes: 512 * 1024,
  stampTextChars: 200,
  passwordChars: 128,
  /** Parts after the job's own document. */
  partsPerJob: 20,
} as const;

export const FINISHING_FAILURE_CODES = {
  /** The PDF library could not apply an option (a damaged image, an unreadable stored file). */
  failed: "pdf_finishing_failed",
  /** A stored asset named as a stamp image is not a PNG or JPEG. */
  assetNotImage: "asset_not_image",
  /** A stored asset named as a part is not a PDF (or one that cannot be read without a password). */
  assetNotPdf: "asset_not_pdf",
} as const;

/** Faces of Kiln's font pack that stamps may use (the pack's files, see layers/chromium/font-pack.ts). */
export const STAMP_FONTS = {
  "Noto Sans": "NotoSans_400Regular.ttf",
  "Noto Sans Bold": "NotoSans_700Bold.ttf",
  "Noto Sans Italic": "NotoSans_400Regular_Italic.ttf",
  "Noto Serif": "NotoSerif_400Regular.ttf",
  "Noto Serif Bold": "NotoSerif_700Bold.ttf",
} as const;
export type StampFont = keyof typeof STAMP_FONTS;

export const PDF_STANDARDS = ["PDF/A-2b", "PDF/A-3b"] as const;
export type PdfStandard = (typeof PDF_STANDARDS)[number];

export const STAMP_POSITIONS = [
  "center",
  "top-left",
  "top",
  "top-right",
  "left",
  "right",
  "bottom-left",
  "bottom",
  "bottom-right",
] as const;

export const StampSchema = z
  .strictObject({
    text: text(PDF_FINISHING_LIMITS.stampTextChars).optional().describe("Text to stamp."),
    image: AssetKeySchema.optional().describe("Or: a PNG or JPEG in the tenant's assets to stamp."),
    pages: z
      .string()
      .max(200)
      .regex(PAGE_RANGES, 'must look like "1-3, 5, 8-"')
      .optional()
      .describe('Pages to stamp, e.g. "1-3, 5, 8-" (default every page).'),
    layer: z.enum(["over", "under"]).default("over").describe("Over the content, or under it."),
    position: z.enum(STAMP_POSITIONS).default("center").describe("Where on the page."),
    opacity: z.number().min(0).max(1).default(0.25).describe("0 (invisible) to 1 (opaque)."),
    rotation: z.number().min(-360).max(360).default(0).describe("Degrees counter-clockwise."),
    font: z
      .enum(Object.keys(STAMP_FONTS) as [StampFont, ...StampFont[]])
      .default("Noto Sans Bold")
      .describe("A face of Kiln's font pack, embedded (subset) in the PDF."),
    fontSize: z.number().min(4).max(400).default(72).describe("In points."),
    color: z
      .string()
      .regex(/^#[0-9A-Fa-f]{6}$/, 'must be a colour such as "#C00000"')
      .default("#C00000")
      .describe("Text colour, #RRGGBB."),
    width: z.number().min(1).max(10_000).optional().describe("Image width in points (default its own)."),
    margin: z.number().min(0).max(1000).default(36).describe("Distance from the page edge in points."),
  })
  .refine((s) => (s.text === undefined) !== (s.image === undefined), {
    message: "give exactly one of text and image",
  });
export type Stamp = z.output<typeof StampSchema>;

/** PDF/A-3's associated-file relationships (ISO 19005-3, /AFRelationship). */
export const ATTACHMENT_RELATIONSHIPS = [
  "Data",
  "Source",
  "Alternative",
  "Supplement",
  "Unspecified",
] as const;

export const AttachmentSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^/\\\0]+$/, "must be a file name without / or \\")
      .describe("File name shown to readers, e.g. `factur-x.xml`."),
    asset: AssetKeySchema.optional().describe("A file in the tenant's assets."),
    content: z.string().optional().describe("Or: the file's content inline (see `encoding`)."),
    encoding: z.enum(["utf8", "base64"]).default("utf8").describe("How `content` is written."),
    mimeType: z
      .string()
      .regex(/^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*$/, 'must be a MIME type such as "text/csv"')
      .describe("The file's MIME type, e.g. `text/xml`."),
    description: text(500).optional().describe("What the file is."),
    relationship: z
      .enum(ATTACHMENT_RELATIONSHIPS)
      .default("Unspecified")
      .describe("PDF/A-3 relationship to the document (/AFRelationship)."),
  })
  .superRefine((a, ctx) => {
    if ((a.asset === undefined) === (a.content === undefined)) {
      ctx.addIssue({ code: "custom", message: "give exactly one of asset and content" });
      return;
    }
    if (a.content === undefined) return;
    if (a.encoding === "base64" && !/^[A-Za-z0-9+/]*={0,2}$/.test(a.content)) {
      ctx.addIssue({ code: "custom", path: ["content"], message: "is not base64" });
      return;
    }
    const bytes = Buffer.byteLength(a.content, a.encoding);
    if (bytes > PDF_FINISHING_LIMITS.inlineAttachmentBytes) {
      ctx.addIssue({
        code: "custom",
        path: ["content"],
        message: `is ${bytes} bytes; at most ${PDF_FINISHING_LIMITS.inlineAttachmentBytes} bytes inline: upload larger files as assets`,
      });
    }
  });
export type Attachment = z.output<typeof AttachmentSchema>;

const PasswordSchema = z.string().min(1).max(PDF_FINISHING_LIMITS.passwordChars);

export const ProtectionSchema = z
  .strictObject({
    userPassword: PasswordSchema.optional().describe("Needed to open the PDF."),
    ownerPassword: PasswordSchema.optional().describe(
      "Lifts the permissions; default: a random one nobody is told, so the permissions hold.",
    ),
    permissions: z
      .strictObject({
        print: z.boolean().default(true).describe("Readers may print (default true)."),
        copy: z.boolean().default(false).describe("Readers may copy text and images (default false)."),
        modify: z.boolean().default(false).describe("Readers may change the document (default false)."),
        annotate: z
          .boolean()
          .default(false)
          .describe("Readers may add comments and fill forms (default false)."),
      })
      .default({ print: true, copy: false, modify: false, annotate: false })
      .describe("What a reader who opened it with the user password may do."),
  })
  .refine((p) => p.userPassword !== undefined || p.ownerPassword !== undefined, {
    message: "give a userPassword, an ownerPassword or both",
  })
  .describe(
    "AES-256 encryption. Passwords are never logged or returned, and are redacted when the job ends.",
  );
export type Protection = z.output<typeof ProtectionSchema>;

/**
 * The parts of `output.pdf.parts`: each a template with its data, assets and page options (the page
 * fields of `output.pdf`, given by output-options.ts), or a stored PDF; appended in order after the
 * job's own document, each with an outline entry.
 */
export function pdfPartsFields<P extends z.ZodType>(pageOptions: P) {
  const PartSchema = z
    .strictObject({
      bookmark: text(200).describe("The part's entry in the PDF outline."),
      template: TemplateRefSchema.optional().describe(
        "A template rendered for this part (inline or stored).",
      ),
      data: z.record(z.string(), z.unknown()).optional().describe("Values for the part's template."),
      assets: AssetRefsSchema.optional().describe("Asset name → key, for the part's template."),
      pdf: pageOptions.optional().describe("The part's own paper, orientation and margins."),
      asset: AssetKeySchema.optional().describe("Or: a stored PDF in the tenant's assets."),
    })
    .superRefine((part, ctx) => {
      if ((part.template === undefined) === (part.asset === undefined)) {
        ctx.addIssue({ code: "custom", message: "give exactly one of template and asset" });
      }
      if (part.asset !== undefined) {
        for (const field of ["data", "assets", "pdf"] as const) {
          if (part[field] !== undefined)
            ctx.addIssue({ code: "custom", path: [field], message: "applies to a template part only" });
        }
      }
    });
  return {
    parts: z
      .array(PartSchema)
      .max(PDF_FINISHING_LIMITS.partsPerJob)
      .optional()
      .describe(
        `Parts appended after the job's document, each a template or a stored PDF with an outline entry (at most ${PDF_FINISHING_LIMITS.partsPerJob}).`,
      ),
    bookmark: text(200)
      .optional()
      .describe("The job's own document's entry in the outline when there are parts (default: its title)."),
  };
}

/** Factur-X / ZUGFeRD profiles, as the invoice XML's guideline names them. */
export const FACTUR_X_PROFILES = [
  "MINIMUM",
  "BASIC WL",
  "BASIC",
  "EN 16931",
  "EXTENDED",
  "XRECHNUNG",
] as const;

export const FacturXSchema = z
  .strictObject({
    attachment: z
      .string()
      .min(1)
      .max(255)
      .default("factur-x.xml")
      .describe("The name of the attachment that holds the invoice XML."),
    profile: z.enum(FACTUR_X_PROFILES).describe("The Factur-X profile of the XML."),
  })
  .describe(
    "Marks the PDF/A-3b as a Factur-X / ZUGFeRD hybrid invoice: the `fx:` XMP properties and their extension schema.",
  );

/** The finishing fields of `output.pdf`. */
export const PDF_FINISHING_FIELDS = {
  metadata: PdfMetadataSchema.optional().describe("Document metadata, in the Info dictionary and in XMP."),
  stamps: z
    .array(StampSchema)
    .max(PDF_FINISHING_LIMITS.stampsPerJob)
    .optional()
    .describe(`Text or image stamps, drawn in order (at most ${PDF_FINISHING_LIMITS.stampsPerJob}).`),
  attachments: z
    .array(AttachmentSchema)
    .max(PDF_FINISHING_LIMITS.attachmentsPerJob)
    .optional()
    .describe(`Files embedded in the PDF (at most ${PDF_FINISHING_LIMITS.attachmentsPerJob}).`),
  protection: ProtectionSchema.optional(),
  facturX: FacturXSchema.optional(),
  standard: z
    .enum(PDF_STANDARDS)
    .optional()
    .describe("Archival PDF/A: XMP identification, an sRGB output intent; no encryption."),
};

type FinishingFields = {
  readonly parts?: readonly { readonly bookmark: string; readonly asset?: string | undefined }[] | undefined;
  readonly bookmark?: string | undefined;
  readonly metadata?: PdfMetadata | undefined;
  readonly stamps?: readonly Stamp[] | undefined;
  readonly attachments?: readonly Attachment[] | undefined;
  readonly protection?: Protection | undefined;
  readonly facturX?: z.output<typeof FacturXSchema> | undefined;
  readonly standard?: PdfStandard | undefined;
};

/** Combinations that cannot be honoured together: each issue names both fields. */
export function refinePdfFinishing(pdf: FinishingFields, ctx: z.RefinementCtx): void {
  const both = (a: string, b: string, message: string) => {
    ctx.addIssue({ code: "custom", path: [a], message: `${message} (with ${b})` });
    ctx.addIssue({ code: "custom", path: [b], message: `${message} (with ${a})` });
  };
  if (pdf.standard !== undefined && pdf.protection !== undefined) {
    both("standard", "protection", `${pdf.standard} forbids encryption: drop standard or protection`);
  }
  if (pdf.standard === "PDF/A-2b" && (pdf.attachments?.length ?? 0) > 0) {
    both(
      "standard",
      "attachments",
      'PDF/A-2b may embed only PDF/A files: use "PDF/A-3b" to attach other files',
    );
  }
  const facturX = pdf.facturX;
  if (facturX !== undefined) {
    if (pdf.standard !== "PDF/A-3b") {
      both("facturX", "standard", 'a Factur-X invoice is a PDF/A-3 file: set standard to "PDF/A-3b"');
    }
    if (!pdf.attachments?.some((a) => a.name === facturX.attachment)) {
      ctx.addIssue({
        code: "custom",
        path: ["facturX", "attachment"],
        message: `names no attachment: add one named "${facturX.attachment}" with the invoice XML to attachments`,
      });
    }
  }
}

/**
 * At submission, like the job's own template: each part's stored template must exist and its data
 * satisfy the version's schema, else 400 naming the part's fields (`output.pdf.parts.1.data.total`).
 */
export async function checkPartTemplates(
  deps: Pick<TemplateDeps, "versions"> | undefined,
  tenant: string,
  pdf:
    | {
        readonly parts?:
          | readonly {
              readonly template?: TemplateRef | undefined;
              readonly data?: Record<string, unknown> | undefined;
            }[]
          | undefined;
      }
    | undefined,
): Promise<void> {
  for (const [index, part] of (pdf?.parts ?? []).entries()) {
    if (!part.template) continue;
    try {
      await checkRenderTemplate(deps, tenant, part.template, part.data ?? {});
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new ValidationError(
        error.issues.map((issue) => ({ ...issue, field: `output.pdf.parts.${index}.${issue.field}` })),
      );
    }
  }
}

/** Whether `output.pdf` asks for any finishing at all. */
export function wantsFinishing(pdf: FinishingFields | undefined): pdf is FinishingFields {
  return (
    pdf !== undefined &&
    ((pdf.parts?.length ?? 0) > 0 ||
      pdf.metadata !== undefined ||
      (pdf.stamps?.length ?? 0) > 0 ||
      (pdf.attachments?.length ?? 0) > 0 ||
      pdf.protection !== undefined ||
      pdf.standard !== undefined)
  );
}

/** What the finisher does, with everything it needs resolved: assets read, ids and dates fixed. */
export interface FinishingPlan {
  /** Appended after the rendered document, each with an outline entry; empty: no outline. */
  readonly parts: readonly PlannedPart[];
  /** The rendered document's own outline entry, when there are parts. */
  readonly bookmark: string;
  readonly metadata: PdfMetadata & { readonly producer: string };
  /** CreationDate and ModDate: the job's clock, else a fixed instant, so equal input gives equal bytes. */
  readonly date: Date;
  /** The trailer /ID, from the input: the same job gives the same id. */
  readonly documentId: Uint8Array;
  readonly stamps: readonly PlannedStamp[];
  readonly attachments: readonly PlannedAttachment[];
  readonly protection?: Protection;
  readonly standard?: PdfStandard;
  readonly facturX?: z.output<typeof FacturXSchema>;
}

export type PlannedStamp = Omit<Stamp, "image" | "pages"> & {
  readonly pages?: readonly PageRange[];
  readonly image?: { readonly bytes: Uint8Array; readonly type: "png" | "jpeg" };
};

export interface PlannedPart {
  readonly bookmark: string;
  readonly pdf: Uint8Array;
}

export interface PlannedAttachment {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly mimeType: string;
  readonly description?: string;
  readonly relationship: (typeof ATTACHMENT_RELATIONSHIPS)[number];
}

/** Applies a plan to a PDF. */
export interface PdfFinisher {
  finish(pdf: Uint8Array, plan: FinishingPlan): Promise<Uint8Array>;
}

/** One document of a merge: `name` says which in an error, `title` is its outline entry. */
export interface MergeDocument {
  readonly title: string;
  readonly name: string;
  readonly pdf: Uint8Array;
}

/**
 * Joins PDFs into one, in order, with one outline entry per document at its first page. A document
 * that cannot be read or a result over OUTPUT_LIMITS.maxPdfPages is a PermanentRenderError.
 */
export interface PdfMerger {
  merge(documents: AsyncIterable<MergeDocument>): Promise<Uint8Array>;
}

/** Reads the bytes of a tenant's asset; undefined when there is none. */
export interface AssetReader {
  read(objectKey: string): Promise<Uint8Array | undefined>;
}

export interface FinishingDeps {
  /** Finishes PDFs; a job that asks for finishing fails without it. */
  readonly finisher?: PdfFinisher;
  /** Reads the assets that stamps and attachments name. */
  readonly assetReader?: AssetReader;
}

/** The rendered document as the job asked for it: finished when its `output.pdf` asks for finishing. */
export async function finishRendered(
  deps: FinishingDeps,
  tenant: string,
  request: {
    readonly output: { readonly format: string; readonly pdf?: FinishingFields | undefined };
    readonly clock?: string | undefined;
  },
  rendered: Uint8Array,
  /** The template parts, rendered, by their index in `output.pdf.parts`. */
  renderedParts: ReadonlyMap<number, Uint8Array> = new Map(),
): Promise<Uint8Array> {
  const pdf = request.output.format === "pdf" ? request.output.pdf : undefined;
  if (!wantsFinishing(pdf)) return rendered;
  if (!deps.finisher) {
    throw new PermanentRenderError(
      FINISHING_FAILURE_CODES.failed,
      "PDF finishing is not configured for this worker.",
    );
  }
  const plan = await planFinishing(deps.assetReader, tenant, pdf, rendered, request.clock, renderedParts);
  return deps.finisher.finish(rendered, plan);
}

/** Stands in for CreationDate/ModDate without a clock: the instant Chromium's own dates are fixed to. */
export const FIXED_PDF_DATE = new Date("2000-01-01T00:00:00Z");

/**
 * Resolves `output.pdf`'s finishing into a plan: reads the assets it names (a missing one fails the job
 * naming it), decodes inline attachments and derives the document id from the PDF and the options.
 */
export async function planFinishing(
  assets: AssetReader | undefined,
  tenant: string,
  pdf: FinishingFields,
  rendered: Uint8Array,
  clock: string | undefined,
  renderedParts: ReadonlyMap<number, Uint8Array> = new Map(),
): Promise<FinishingPlan> {
  const read = async (key: string, field: string): Promise<Uint8Array> => {
    const bytes = assets ? await assets.read(assetObjectKey(tenant, key)) : undefined;
    if (bytes === undefined) {
      throw new PermanentRenderError(
        ASSET_MISSING,
        `Asset ${key} named by output.pdf.${field} does not exist: upload it with PUT /v1/assets/{key} before rendering.`,
      );
    }
    return bytes;
  };
  const parts = await Promise.all(
    (pdf.parts ?? []).map(async (part, i): Promise<PlannedPart> => {
      const bytes =
        part.asset !== undefined ? await read(part.asset, `parts.${i}.asset`) : renderedParts.get(i);
      if (bytes === undefined) throw new Error(`Part ${i} of the job was not rendered.`);
      if (Buffer.from(bytes.subarray(0, 5)).toString("latin1") !== "%PDF-") {
        throw new PermanentRenderError(
          FINISHING_FAILURE_CODES.assetNotPdf,
          `Asset ${part.asset} named by output.pdf.parts.${i}.asset is not a PDF.`,
        );
      }
      return { bookmark: part.bookmark, pdf: bytes };
    }),
  );
  const stamps = await Promise.all(
    (pdf.stamps ?? []).map(async ({ image, pages, ...stamp }, i): Promise<PlannedStamp> => {
      const planned = { ...stamp, ...(pages !== undefined ? { pages: parsePageRanges(pages) } : {}) };
      if (image === undefined) return planned;
      const bytes = await read(image, `stamps.${i}.image`);
      const type = imageType(bytes);
      if (!type) {
        throw new PermanentRenderError(
          FINISHING_FAILURE_CODES.assetNotImage,
          `Asset ${image} named by output.pdf.stamps.${i}.image is not a PNG or JPEG.`,
        );
      }
      return { ...planned, image: { bytes, type } };
    }),
  );
  const attachments = await Promise.all(
    (pdf.attachments ?? []).map(
      async (a, i): Promise<PlannedAttachment> => ({
        name: a.name,
        bytes:
          a.asset !== undefined
            ? await read(a.asset, `attachments.${i}.asset`)
            : new Uint8Array(Buffer.from(a.content ?? "", a.encoding)),
        mimeType: a.mimeType,
        ...(a.description !== undefined ? { description: a.description } : {}),
        relationship: a.relationship,
      }),
    ),
  );
  const { protection, ...deterministic } = pdf;
  const documentId = createHash("sha256")
    .update(rendered)
    .update(JSON.stringify(deterministic))
    .update(
      [...parts.map((p) => p.pdf), ...attachments.map((a) => a.bytes)]
        .map((bytes) => createHash("sha256").update(bytes).digest("hex"))
        .join(),
    )
    .digest()
    .subarray(0, 16);
  return {
    parts,
    bookmark: pdf.bookmark ?? pdf.metadata?.title ?? "Document",
    metadata: { producer: "Kiln", ...pdf.metadata },
    date: clock ? new Date(clock) : FIXED_PDF_DATE,
    documentId: new Uint8Array(documentId),
    stamps,
    attachments,
    ...(protection ? { protection } : {}),
    ...(pdf.standard ? { standard: pdf.standard } : {}),
    ...(pdf.facturX ? { facturX: pdf.facturX } : {}),
  };
}

function imageType(bytes: Uint8Array): "png" | "jpeg" | undefined {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return undefined;
}

/** The request with every password replaced: what stays stored once the job has ended. */
export const REDACTED_PASSWORD = "[redacted]";

export function redactPasswords<R extends { readonly output: { readonly pdf?: object | undefined } }>(
  request: R,
): R {
  const pdf = request.output.pdf as FinishingFields | undefined;
  const protection = pdf?.protection;
  if (!protection) return request;
  return {
    ...request,
    output: {
      ...request.output,
      pdf: {
        ...pdf,
        protection: {
          ...protection,
          ...(protection.userPassword !== undefined ? { userPassword: REDACTED_PASSWORD } : {}),
          ...(protection.ownerPassword !== undefined ? { ownerPassword: REDACTED_PASSWORD } : {}),
        },
      },
    },
  };
}

/** Whether a stored request still holds a password in plain text. */
export function holdsPasswords(request: { readonly output: { readonly pdf?: object | undefined } }): boolean {
  const protection = (request.output.pdf as FinishingFields | undefined)?.protection;
  return (
    protection !== undefined &&
    [protection.userPassword, protection.ownerPassword].some(
      (p) => p !== undefined && p !== REDACTED_PASSWORD,
    )
  );
}
