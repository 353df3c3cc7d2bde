/**
 * Chromium's PDFs differ from render to render in two places, both outside content streams:
 * - `/CreationDate (D:20261121230412+00'00')` and `/ModDate (…)` in the document info dictionary;
 * - tagged-PDF structure ids such as `/ID (node00000017)` and `/Headers [(node00000017)]`, which are
 *   DOM node ids and so depend on how many nodes the renderer process created before.
 * Rewriting them with same-length values keeps every byte offset (and so the xref table) valid while
 * making identical input give identical bytes.
 */

/** Stands in for every timestamp: 2000-01-01T00:00:00Z. */
const FIXED_DATE_DIGITS = "20000101000000";

const DATE_FIELD = /\/(?:CreationDate|ModDate)\s*\(D:(\d{4,14})([^)]*)\)/g;
const NODE_ID = /\(node(\d+)\)/g;
/** Stream bodies are skipped so binary content is never touched. */
const STREAM_BODY = />>\s*stream\r?\n[\s\S]*?endstream/g;

/** Returns a copy of `pdf` with its per-render dates and structure ids fixed; lengths unchanged. */
export function normalizePdf(pdf: Uint8Array): Uint8Array {
  const out = new Uint8Array(pdf);
  // latin1 maps each byte to one char, so string indices are byte offsets.
  const text = Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength).toString("latin1");
  const regions = outsideStreams(text);

  const write = (offset: number, value: string) => {
    for (let i = 0; i < value.length; i++) out[offset + i] = value.charCodeAt(i);
  };

  for (const [start, end] of regions) {
    const region = text.slice(start, end);
    for (const m of region.matchAll(DATE_FIELD)) {
      const [whole, digits = "", zone = ""] = m;
      const digitsAt = start + m.index + whole.indexOf("(D:") + 3;
      write(digitsAt, FIXED_DATE_DIGITS.slice(0, digits.length));
      // "+05'30'" or "-08'00'" → "+00'00'"; "Z" stays.
      write(digitsAt + digits.length, zone.replace(/\d/g, "0").replace("-", "+"));
    }
  }

  // Renumber ids by first appearance; a shared map keeps /ID and /Headers references consistent.
  const ids = new Map<string, string>();
  const occurrences: { offset: number; digits: string }[] = [];
  for (const [start, end] of regions) {
    for (const m of text.slice(start, end).matchAll(NODE_ID)) {
      const digits = m[1] ?? "";
      if (!ids.has(digits)) ids.set(digits, String(ids.size + 1).padStart(digits.length, "0"));
      occurrences.push({ offset: start + m.index + "(node".length, digits });
    }
  }
  // If any id is too short to hold its new number, renumbering some but not all could merge two
  // ids into one; leave them all as they are instead.
  const fits = [...ids].every(([from, to]) => to.length === from.length);
  if (fits) for (const { offset, digits } of occurrences) write(offset, ids.get(digits) ?? digits);

  return out;
}

/** [start, end) ranges of `text` that are not stream bodies. */
function outsideStreams(text: string): [number, number][] {
  const regions: [number, number][] = [];
  let from = 0;
  for (const m of text.matchAll(STREAM_BODY)) {
    regions.push([from, m.index]);
    from = m.index + m[0].length;
  }
  regions.push([from, text.length]);
  return regions;
}
