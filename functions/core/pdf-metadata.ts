import { z } from "zod";

/**
 * A PDF's document metadata, as a job (`output.pdf.metadata`) or a template version (`pdfMetadata`)
 * gives it; the job's fields win over the version's. Written by PDF finishing (pdf-finishing.ts).
 */
export const PDF_METADATA_CHARS = 1000;
export const PDF_METADATA_KEYWORDS = 50;

/** A non-empty string of at most `max` characters. */
export const boundedText = (max: number = PDF_METADATA_CHARS) => z.string().min(1).max(max);

export const PdfMetadataSchema = z.strictObject({
  title: boundedText().optional().describe("Document title (Info /Title and XMP dc:title)."),
  author: boundedText().optional().describe("Author (Info /Author and XMP dc:creator)."),
  subject: boundedText().optional().describe("Subject (Info /Subject and XMP dc:description)."),
  keywords: z
    .array(boundedText(200))
    .max(PDF_METADATA_KEYWORDS)
    .optional()
    .describe(`Keywords (Info /Keywords and XMP pdf:Keywords), at most ${PDF_METADATA_KEYWORDS}.`),
  creator: boundedText().optional().describe("The application that made the source (Info /Creator)."),
  producer: boundedText()
    .optional()
    .describe('The application that made the PDF (Info /Producer; default "Kiln").'),
  language: z
    .string()
    .regex(/^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/, 'must be a language tag such as "en" or "de-CH"')
    .optional()
    .describe('Document language, a BCP 47 tag such as "en-GB" (catalog /Lang).'),
});
export type PdfMetadata = z.output<typeof PdfMetadataSchema>;
