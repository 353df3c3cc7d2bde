import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";

/** Page count, the text and the size (points) of each page, read with PDF.js (no poppler needed). */
export async function readPdf(
  bytes: Uint8Array,
): Promise<{ pages: number; text: string[]; sizes: Array<{ width: number; height: number }> }> {
  const task = getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, verbosity: 0 });
  const doc = await task.promise;
  try {
    const text: string[] = [];
    const sizes: Array<{ width: number; height: number }> = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const [x0 = 0, y0 = 0, x1 = 0, y1 = 0] = page.view;
      sizes.push({ width: Math.round(x1 - x0), height: Math.round(y1 - y0) });
      const content = await page.getTextContent();
      text.push(
        content.items
          .map((item) => ("str" in item ? `${item.str}${item.hasEOL ? "\n" : ""}` : ""))
          .join("")
          .replace(/[ \t]+/g, " "),
      );
    }
    return { pages: doc.numPages, text, sizes };
  } finally {
    await task.destroy();
  }
}
