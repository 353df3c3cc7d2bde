import { describe, expect, it } from "vitest";
import { normalizePdf } from "../../functions/adapters/chromium/pdf-determinism.js";

interface Variant {
  readonly date: string;
  readonly ids: readonly [string, string];
  readonly streamBody?: string;
}

/** A small PDF shaped like Chromium's: info dates, tagged table cells, a stream, a real xref. */
function chromiumLikePdf({ date, ids: [a, b], streamBody = "BT (Hi) Tj ET" }: Variant): Uint8Array {
  const objects = [
    `<</Title (Invoice)\n/Creator (Chromium)\n/Producer (Skia/PDF m153)\n/CreationDate (D:${date})\n/ModDate (D:${date})>>`,
    `<</Type /Catalog\n/Pages 3 0 R>>`,
    `<</Type /Pages\n/Count 1\n/Kids [4 0 R]>>`,
    `<</Type /Page\n/Parent 3 0 R\n/Contents 5 0 R>>`,
    `<</Length ${streamBody.length}>> stream\n${streamBody}\nendstream`,
    `<</Type /StructElem\n/S /TH\n/A [<</O /Table\n/Scope /Column>>]\n/ID (node${a})>>`,
    `<</Type /StructElem\n/S /TH\n/ID (node${b})>>`,
    `<</Type /StructElem\n/S /TD\n/A [<</O /Table\n/Headers [(node${a})]>>]>>`,
    `<</Type /StructElem\n/S /TD\n/A [<</O /Table\n/Headers [(node${b})]>>]>>`,
  ];
  let body = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  objects.forEach((content, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${content}\nendobj\n`;
  });
  const xrefAt = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, "0")} 00000 n \n`;
  body += `trailer\n<</Size ${objects.length + 1}\n/Root 2 0 R\n/Info 1 0 R>>\nstartxref\n${xrefAt}\n%%EOF`;
  return new Uint8Array(Buffer.from(body, "latin1"));
}

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

/** Every xref entry still points at the start of its object. */
function xrefIsValid(pdf: Uint8Array): boolean {
  const text = latin1(pdf);
  const xrefAt = Number(/startxref\n(\d+)/.exec(text)?.[1]);
  const entries = text.slice(xrefAt).match(/^\d{10} 00000 n $/gm) ?? [];
  return (
    entries.length > 0 && entries.every((e, i) => text.startsWith(`${i + 1} 0 obj`, Number(e.slice(0, 10))))
  );
}

describe("normalizePdf", () => {
  const first = chromiumLikePdf({ date: "20261121230412+00'00'", ids: ["00000017", "00000018"] });
  const later = chromiumLikePdf({ date: "20261121230959+00'00'", ids: ["00000688", "00000689"] });

  it("makes two renders of the same document byte-identical", () => {
    expect(latin1(first)).not.toBe(latin1(later));
    expect(latin1(normalizePdf(first))).toBe(latin1(normalizePdf(later)));
  });

  it("keeps the length and every xref offset", () => {
    const out = normalizePdf(later);
    expect(out.length).toBe(later.length);
    expect(xrefIsValid(later)).toBe(true);
    expect(xrefIsValid(out)).toBe(true);
  });

  it("writes a fixed, well-formed date into both date fields", () => {
    const text = latin1(normalizePdf(later));
    expect(text).toContain("/CreationDate (D:20000101000000+00'00')");
    expect(text).toContain("/ModDate (D:20000101000000+00'00')");
  });

  it("fixes a non-UTC offset and keeps a Z zone", () => {
    const west = latin1(normalizePdf(chromiumLikePdf({ date: "20261121230412-08'00'", ids: ["1", "2"] })));
    expect(west).toContain("/CreationDate (D:20000101000000+00'00')");
    const zulu = latin1(normalizePdf(chromiumLikePdf({ date: "20261121230412Z", ids: ["1", "2"] })));
    expect(zulu).toContain("/ModDate (D:20000101000000Z)");
  });

  it("renumbers structure ids by first appearance and keeps /Headers pointing at the same cells", () => {
    const text = latin1(normalizePdf(later));
    expect(text).toContain("/ID (node00000001)");
    expect(text).toContain("/ID (node00000002)");
    expect(text).toContain("/Headers [(node00000001)]");
    expect(text).toContain("/Headers [(node00000002)]");
    expect(text).not.toContain("node00000688");
  });

  it("leaves stream bodies alone, even when they contain look-alike text", () => {
    const streamBody = "(node00000999) /CreationDate (D:20261121230412+00'00')";
    const pdf = chromiumLikePdf({ date: "20261121230412+00'00'", ids: ["00000017", "00000018"], streamBody });
    expect(latin1(normalizePdf(pdf))).toContain(`stream\n${streamBody}\nendstream`);
  });

  it("leaves ids alone when renumbering would not fit in the same length", () => {
    // Nine two-digit ids, then a one-digit id that would need the two-digit number 10.
    const ids = [10, 11, 12, 13, 14, 15, 16, 17, 18, 1].map((n) => `(node${n})`).join(" ");
    const pdf = new Uint8Array(Buffer.from(`%PDF-1.4\n1 0 obj\n[${ids}]\nendobj\n%%EOF`, "latin1"));
    expect(latin1(normalizePdf(pdf))).toBe(latin1(pdf));
  });

  it("does not modify its input and returns identical bytes when there is nothing to fix", () => {
    const copy = new Uint8Array(later);
    normalizePdf(later);
    expect(latin1(later)).toBe(latin1(copy));
    const plain = new Uint8Array(
      Buffer.from("%PDF-1.4\n1 0 obj\n<</Type /Catalog>>\nendobj\n%%EOF", "latin1"),
    );
    expect(latin1(normalizePdf(plain))).toBe(latin1(plain));
  });
});
