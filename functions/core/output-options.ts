import { z } from "zod";
import { PAGE_RANGES } from "./page-ranges.js";
import { PDF_FINISHING_FIELDS, pdfPartsFields, refinePdfFinishing } from "./pdf-finishing.js";
import { implies, jsonSchemaRules, present } from "./schema-rules.js";
import { requireLiquidSyntax } from "./template-engine.js";

/**
 * What a render produces and how the page is readied for capture: the `output` object of a render
 * request and the page options next to it (`waitFor`, `clock`, `resourceErrors`). Limits that can be
 * checked at submission answer 400; those that depend on the content (a full-page screenshot's height,
 * a PDF's page count) fail the job with `output_too_large`.
 */
export const OUTPUT_LIMITS = {
  maxDimension: 4096,
  /** Of the captured image, in device pixels: width × height × scale². */
  maxPixels: 4096 * 4096,
  maxScale: 4,
  /** 96 dpi is a scale of 1. */
  minDpi: 96,
  maxDpi: 384,
  maxPdfPages: 500,
  /** Header and footer templates, each. */
  headerFooterBytes: 64 * 1024,
  maxWaitMs: 20_000,
  defaultWaitMs: 5_000,
  /** The worker's budget for one render; a job may ask for less (`timeoutMs`), never more. */
  renderTimeoutMs: 30_000,
  minRenderTimeoutMs: 1_000,
} as const;

export const OUTPUT_FORMATS = ["png", "jpeg", "webp", "pdf"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Paper sizes in inches, as Chromium's print dialog defines them. */
export const PAPER_SIZES = {
  letter: { width: 8.5, height: 11 },
  legal: { width: 8.5, height: 14 },
  tabloid: { width: 11, height: 17 },
  ledger: { width: 17, height: 11 },
  a0: { width: 33.1102, height: 46.811 },
  a1: { width: 23.3858, height: 33.1102 },
  a2: { width: 16.5354, height: 23.3858 },
  a3: { width: 11.6929, height: 16.5354 },
  a4: { width: 8.2677, height: 11.6929 },
  a5: { width: 5.8268, height: 8.2677 },
  a6: { width: 4.1339, height: 5.8268 },
} as const;
export type PaperName = keyof typeof PAPER_SIZES;

const UNITS_PER_INCH = { in: 1, cm: 2.54, mm: 25.4, px: 96 } as const;

const MAX_LENGTH_INCHES = 100;
const LENGTH_EXAMPLES = 'such as "16mm", "1in", "2.5cm", "40px" or "0"';
/** A number with a unit, or a bare 0 (a length with no size needs none, as in CSS). */
const LENGTH = /^\s*(?:(\d+(?:\.\d+)?)\s*(px|in|cm|mm)|0)\s*$/;

/** A CSS length in px, in, cm or mm (a bare number is px), converted to inches. */
const LengthSchema = z
  .union([
    z
      .number()
      .min(0, `must be a length ${LENGTH_EXAMPLES}`)
      .max(MAX_LENGTH_INCHES * UNITS_PER_INCH.px),
    z.string().regex(LENGTH, `must be a length ${LENGTH_EXAMPLES}`),
  ])
  .transform((value) => {
    if (typeof value === "number") return value / UNITS_PER_INCH.px;
    const [, amount, unit] = LENGTH.exec(value) as RegExpExecArray;
    return unit ? Number(amount) / UNITS_PER_INCH[unit as keyof typeof UNITS_PER_INCH] : 0;
  })
  .refine((inches) => inches <= MAX_LENGTH_INCHES, `must be at most ${MAX_LENGTH_INCHES} inches`)
  .describe(`A CSS length, ${LENGTH_EXAMPLES}; a bare number is px. At most ${MAX_LENGTH_INCHES} inches.`);

/** A paper name in any case, spelled out for JSON Schema, whose patterns have no flags. */
const PAPER_NAME = new RegExp(
  `^(?:${Object.keys(PAPER_SIZES)
    .map((name) => name.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`))
    .join("|")})$`,
);

const PageSizeSchema = z.union([
  z
    .string()
    .regex(PAPER_NAME, `must be one of ${Object.keys(PAPER_SIZES).join(", ")} (any case) or {width, height}`)
    .transform((s) => PAPER_SIZES[s.toLowerCase() as PaperName]),
  z.strictObject({ width: LengthSchema, height: LengthSchema }),
]);

const TOO_MANY_HEADER_FOOTER_BYTES = `must be at most ${OUTPUT_LIMITS.headerFooterBytes} bytes`;

/** Liquid like the template, so parsed at submission too: a syntax error is a 400 naming the line. */
const HeaderFooterSchema = z
  .string()
  .max(OUTPUT_LIMITS.headerFooterBytes, { message: TOO_MANY_HEADER_FOOTER_BYTES, abort: true })
  .refine((s) => Buffer.byteLength(s, "utf8") <= OUTPUT_LIMITS.headerFooterBytes, {
    message: TOO_MANY_HEADER_FOOTER_BYTES,
    abort: true,
  })
  .superRefine(requireLiquidSyntax);

/** Paper, margins, header and footer: of the job's document, and of each template part. */
const PdfPageOptionsSchema = z.strictObject({
  /** Paper size; when absent, the template's CSS `@page { size }` applies, else A4. */
  pageSize: PageSizeSchema.optional().describe(
    `Paper: ${Object.keys(PAPER_SIZES).join(", ")} (any case) or {width, height}; default: the CSS @page size, else A4.`,
  ),
  landscape: z.boolean().default(false).describe("Rotate the paper."),
  /** Page margins; the template's CSS `@page { margin }` wins where it sets one. */
  margin: z
    .strictObject({
      top: LengthSchema.optional(),
      right: LengthSchema.optional(),
      bottom: LengthSchema.optional(),
      left: LengthSchema.optional(),
    })
    .optional()
    .describe(
      "Page margins, each a CSS length (default 0); the template's CSS `@page { margin }` wins where it sets one.",
    ),
  /**
   * HTML drawn in the top and bottom margins of every page, hydrated with the job's data like the
   * template. Elements with class `pageNumber`, `totalPages`, `title` get those values; those with
   * class `date` get the job's `clock` when it has one (as `1/2/26, 12:05 AM`, UTC), else the time of
   * printing. Styles must be inline (the page's CSS does not apply) and images must be data: URLs.
   */
  headerTemplate: HeaderFooterSchema.optional().describe(
    "HTML drawn in the top margin of every page, hydrated with the job's data; inline styles only. Classes `pageNumber`, `totalPages` and `title` get those values; `date` gets the job's clock when it has one (as `1/2/26, 12:05 AM`, UTC), else the time of printing.",
  ),
  footerTemplate: HeaderFooterSchema.optional().describe(
    "HTML drawn in the bottom margin of every page, like headerTemplate: `pageNumber`, `totalPages`, `title` and `date` classes get those values, `date` from the job's clock when it has one.",
  ),
  pageRanges: z
    .string()
    .max(200)
    .regex(PAGE_RANGES, 'must look like "1-3, 5, 8-"')
    .optional()
    .describe('Pages to keep, e.g. "1-3, 5, 8-".'),
  printBackground: z.boolean().default(true).describe("Print background colours and images."),
  /** Whether CSS `@page { size }` beats `pageSize`. Defaults to true without a pageSize, false with one. */
  preferCssPageSize: z
    .boolean()
    .optional()
    .describe(
      "Whether CSS `@page { size }` beats pageSize; default true without a pageSize, false with one.",
    ),
});

/** The page options and the finishing after the render: parts, metadata, stamps, … (pdf-finishing.ts). */
export const PdfOptionsSchema = PdfPageOptionsSchema.extend({
  ...pdfPartsFields(PdfPageOptionsSchema),
  ...PDF_FINISHING_FIELDS,
}).superRefine(refinePdfFinishing);
export type PdfOptions = z.output<typeof PdfOptionsSchema>;

const ClipSchema = z.strictObject({
  x: z.number().min(0).max(100_000).describe("Left edge, in CSS pixels from the page's left."),
  y: z.number().min(0).max(100_000).describe("Top edge, in CSS pixels from the page's top."),
  width: z.number().min(1).max(OUTPUT_LIMITS.maxDimension).describe("Width in CSS pixels."),
  height: z.number().min(1).max(OUTPUT_LIMITS.maxDimension).describe("Height in CSS pixels."),
});

const IMAGE_ONLY = ["fullPage", "clip", "selector", "transparent"] as const;

export const OutputOptionsSchema = z
  .strictObject({
    format: z.enum(OUTPUT_FORMATS).describe("The output's file format."),
    /** The viewport in CSS pixels. */
    width: z
      .int()
      .min(1)
      .max(OUTPUT_LIMITS.maxDimension)
      .default(1200)
      .describe("Viewport width in CSS pixels."),
    height: z
      .int()
      .min(1)
      .max(OUTPUT_LIMITS.maxDimension)
      .default(800)
      .describe("Viewport height in CSS pixels."),
    /** Device pixels per CSS pixel. */
    scale: z
      .number()
      .min(1)
      .max(OUTPUT_LIMITS.maxScale)
      .optional()
      .describe("Device pixels per CSS pixel (default 1)."),
    /** Instead of scale: dots per inch, where 96 is a scale of 1. */
    dpi: z
      .number()
      .min(OUTPUT_LIMITS.minDpi)
      .max(OUTPUT_LIMITS.maxDpi)
      .optional()
      .describe("Instead of scale: dots per inch, where 96 is a scale of 1."),
    quality: z.int().min(1).max(100).optional().describe("jpeg and webp only."),
    /** Capture the whole page, not just the viewport. */
    fullPage: z.boolean().optional().describe("Capture the whole page, not just the viewport (images only)."),
    /** Capture this rectangle of the page (CSS pixels). */
    clip: ClipSchema.optional().describe("Capture this rectangle of the page, in CSS pixels (images only)."),
    /** Capture the first element matching this CSS selector. */
    selector: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe("Capture the first element matching this CSS selector (images only)."),
    /** Leave the background transparent where the page paints none (png and webp). */
    transparent: z
      .boolean()
      .optional()
      .describe("Leave the background transparent where the page paints none (png and webp)."),
    pdf: PdfOptionsSchema.optional().describe("PDF options (format pdf only)."),
  })
  .superRefine((o, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (o.quality !== undefined && o.format !== "jpeg" && o.format !== "webp") {
      issue("quality", "quality applies only to jpeg and webp");
    }
    if (o.scale !== undefined && o.dpi !== undefined) issue("dpi", "give scale or dpi, not both");
    if (o.format === "pdf") {
      for (const field of IMAGE_ONLY)
        if (o[field] !== undefined) issue(field, `${field} does not apply to pdf`);
    } else if (o.pdf !== undefined) {
      issue("pdf", "pdf options apply only to format pdf");
    }
    const capture = [
      o.fullPage ? "fullPage" : undefined,
      o.clip ? "clip" : undefined,
      o.selector ? "selector" : undefined,
    ].filter(Boolean);
    if (capture.length > 1) issue(capture[1] as string, `give at most one of fullPage, clip and selector`);
    if (o.transparent && o.format === "jpeg")
      issue("transparent", "jpeg has no transparency: use png or webp");
    const scale = o.scale ?? (o.dpi ?? OUTPUT_LIMITS.minDpi) / OUTPUT_LIMITS.minDpi;
    const area = o.clip ? o.clip.width * o.clip.height : o.width * o.height;
    if (o.format !== "pdf" && area * scale * scale > OUTPUT_LIMITS.maxPixels) {
      issue(
        o.clip ? "clip" : "width",
        `${o.clip ? "clip.width × clip.height" : "width × height"} × scale² must not exceed ${OUTPUT_LIMITS.maxPixels} pixels`,
      );
    }
  })
  // The rules above but the pixel budget, which is arithmetic, for JSON Schema readers.
  .register(jsonSchemaRules, {
    allOf: [
      implies(present("quality"), { properties: { format: { enum: ["jpeg", "webp"] } } }),
      { not: { required: ["scale", "dpi"] } },
      implies(present("format", "pdf"), { not: { anyOf: IMAGE_ONLY.map((field) => present(field)) } }),
      implies(present("pdf"), present("format", "pdf")),
      {
        not: {
          anyOf: [
            { allOf: [present("fullPage", true), present("clip")] },
            { allOf: [present("fullPage", true), present("selector")] },
            { allOf: [present("clip"), present("selector")] },
          ],
        },
      },
      { not: { allOf: [present("format", "jpeg"), present("transparent", true)] } },
    ],
  })
  .transform(({ dpi, scale, ...o }) => ({
    ...o,
    scale: scale ?? (dpi ?? OUTPUT_LIMITS.minDpi) / OUTPUT_LIMITS.minDpi,
  }));
export type OutputOptions = z.output<typeof OutputOptionsSchema>;

/** How long and for what the page is waited on after it has loaded, before capture. */
export const WaitForSchema = z
  .strictObject({
    /** Wait until an element matches this CSS selector. */
    selector: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe("Wait until an element matches this CSS selector."),
    /** Wait until this JavaScript expression is truthy in the page. */
    expression: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe("Wait until this JavaScript expression is truthy in the page."),
    timeoutMs: z
      .int()
      .min(1)
      .max(OUTPUT_LIMITS.maxWaitMs)
      .default(OUTPUT_LIMITS.defaultWaitMs)
      .describe("How long to wait before the job fails with wait_timeout."),
  })
  .refine((w) => (w.selector === undefined) !== (w.expression === undefined), {
    message: "give exactly one of selector and expression",
  })
  .register(jsonSchemaRules, { oneOf: [present("selector"), present("expression")] });
export type WaitFor = z.output<typeof WaitForSchema>;

/** The instant `Date` reports in the page, frozen, e.g. `2026-01-01T00:00:00Z`. */
export const ClockSchema = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

/** The CSS media type a page is rendered for. */
export const EmulateMediaSchema = z.enum(["screen", "print"]);

/** Whether a font or image that failed to load fails the job (default) or renders as the browser shows it. */
export const ResourceErrorsSchema = z.enum(["fail", "ignore"]);

/** What the renderer needs besides the HTML and the output options. */
export interface PageOptions {
  readonly waitFor?: WaitFor;
  /** ISO-8601; absent: the real time. */
  readonly clock?: string;
  /** @default "fail" */
  readonly resourceErrors?: "fail" | "ignore";
  /** The job's own render budget, when it asked for less than the worker's. */
  readonly timeoutMs?: number;
  /** Run the template's own scripts. @default false */
  readonly javascript?: boolean;
  /** What a request the egress rules block does to the render. @default "fail" */
  readonly blockedRequests?: "fail" | "ignore";
  /** The tenant's egress allowlist (exact hosts or `*.example.com`), reached over https. @default [] */
  readonly allowHosts?: readonly string[];
  /** @default - Chromium's: print for PDFs, screen for images */
  readonly emulateMedia?: "screen" | "print";
}

/** Paper and margins of a PDF in inches, as Chromium's Page.printToPDF takes them. */
export function pdfLayout(
  pdf: PdfOptions | undefined,
  defaultPaper: { width: number; height: number } = PAPER_SIZES.a4,
): {
  paperWidth: number;
  paperHeight: number;
  marginTop: number;
  marginRight: number;
  marginBottom: number;
  marginLeft: number;
  preferCSSPageSize: boolean;
} {
  const size = pdf?.pageSize ?? defaultPaper;
  return {
    paperWidth: size.width,
    paperHeight: size.height,
    marginTop: pdf?.margin?.top ?? 0,
    marginRight: pdf?.margin?.right ?? 0,
    marginBottom: pdf?.margin?.bottom ?? 0,
    marginLeft: pdf?.margin?.left ?? 0,
    preferCSSPageSize: pdf?.preferCssPageSize ?? pdf?.pageSize === undefined,
  };
}
