/**
 * The page count of a PDF as Chromium writes it: every page-tree node states `/Type /Pages … /Count N`
 * for the pages below it, so the root's count — the largest — is the document's. Only dictionaries
 * outside streams are read; Chromium does not put page trees into object streams.
 */
export function pdfPageCount(pdf: Uint8Array): number {
  const text = Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength).toString("latin1");
  let count = 0;
  for (const m of text.matchAll(/<<((?:(?!>>)[\s\S])*?\/Type\s*\/Pages\b(?:(?!>>)[\s\S])*?)>>/g)) {
    const n = /\/Count\s+(\d+)/.exec(m[1] ?? "")?.[1];
    if (n !== undefined) count = Math.max(count, Number(n));
  }
  return count;
}
