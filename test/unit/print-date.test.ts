import { describe, expect, it } from "vitest";
import { OutputOptionsSchema } from "../../functions/core/output-options.js";
import { prepareDocument } from "../../functions/core/prepare-document.js";
import { chromiumPrintDate, stampPrintDate } from "../../functions/core/print-date.js";
import { parseOrThrow } from "../../functions/core/render-request.js";

const CLOCK = "2026-01-02T00:05:00.000Z";
const STAMP = "1/2/26, 12:05 AM";

describe("chromiumPrintDate", () => {
  // Each expected text is what Chromium 153 wrote for that instant (en-US, UTC).
  it.each([
    ["2026-11-22T06:14:00Z", "11/22/26, 6:14 AM"],
    ["2026-01-02T00:05:00Z", "1/2/26, 12:05 AM"],
    ["2026-12-31T12:00:00Z", "12/31/26, 12:00 PM"],
    ["2005-07-09T23:59:59Z", "7/9/05, 11:59 PM"],
    ["1999-03-04T13:07:00Z", "3/4/99, 1:07 PM"],
  ])("writes %s as %s", (instant, text) => {
    expect(chromiumPrintDate(instant)).toBe(text);
  });

  it("reads an offset instant in UTC", () => {
    expect(chromiumPrintDate("2026-01-01T20:30:00-05:00")).toBe("1/2/26, 1:30 AM");
  });

  it("rejects what is not an instant", () => {
    expect(() => chromiumPrintDate("yesterday")).toThrow(RangeError);
  });
});

describe("stampPrintDate", () => {
  const stamp = (template: string) => stampPrintDate(template, CLOCK);

  it("fills a date element and drops its class so Chromium leaves it alone", () => {
    expect(stamp('<span class="date"></span>')).toBe(`<span >${STAMP}</span>`);
  });

  it("keeps the other classes, in single or double quotes or none", () => {
    expect(stamp('<div class="date small">x</div>')).toBe(`<div class="small">${STAMP}</div>`);
    expect(stamp("<i class='big date  bold' id=d></i>")).toBe(`<i class='big bold' id=d>${STAMP}</i>`);
    expect(stamp("<b class=date>x</b>")).toBe(`<b >${STAMP}</b>`);
    expect(stamp('<P CLASS="date" title="a > b">x</P>')).toBe(`<P  title="a > b">${STAMP}</P>`);
  });

  it("replaces the element's content, nested elements included, as textContent would", () => {
    expect(stamp('<p class="date">on <span>old <span class="date">x</span></span> day</p>|')).toBe(
      `<p >${STAMP}</p>|`,
    );
    expect(stamp('<span class="date"><span>a</span>b</span><span class="x">c</span>')).toBe(
      `<span >${STAMP}</span><span class="x">c</span>`,
    );
  });

  it("stamps every date element and leaves the other special classes to Chromium", () => {
    const template =
      '<div><span class="date"></span> · <span class="title"></span> · <span class="pageNumber"></span>/<span class="totalPages"></span> <em class="date"></em></div>';
    expect(stamp(template)).toBe(
      `<div><span >${STAMP}</span> · <span class="title"></span> · <span class="pageNumber"></span>/<span class="totalPages"></span> <em >${STAMP}</em></div>`,
    );
  });

  it("matches the class token exactly", () => {
    const template = '<span class="dates update Date date-time"></span><span data-class="date"></span>';
    expect(stamp(template)).toBe(template);
  });

  it("ignores comments, styles, scripts and attribute values that look like date elements", () => {
    const template = [
      '<!-- <span class="date"></span> -->',
      '<style>.date { color: red } /* <b class="date"></b> */</style>',
      "<script>document.write('<span class=\"date\"></span>')</script>",
      "<img alt='<span class=\"date\"></span>'>",
    ].join("");
    expect(stamp(template)).toBe(template);
  });

  it("takes only the class off a void element, which has no text", () => {
    expect(stamp('<img class="date logo" src="data:,"><span class="date"></span>')).toBe(
      `<img class="logo" src="data:,"><span >${STAMP}</span>`,
    );
  });

  it("puts the date after the start tag of an element that is never closed, and keeps what follows", () => {
    expect(stamp('<span class="date">tail <b class="date"></b>')).toBe(
      `<span >${STAMP}tail <b >${STAMP}</b>`,
    );
  });

  it("leaves a template without date elements, or one cut off inside a tag, as it is", () => {
    for (const template of ["", "plain text", '<span class="pageNumber"></span>', '<span class="date', "<"]) {
      expect(stamp(template)).toBe(template);
    }
  });
});

describe("prepareDocument with a PDF header and footer", () => {
  const request = (clock?: string) => ({
    template: { html: "<p>body</p>" },
    data: { n: "INV-7" },
    output: parseOrThrow(OutputOptionsSchema, {
      format: "pdf",
      pdf: {
        headerTemplate: '<span class="date"></span>',
        footerTemplate:
          '<span>{{ n }} <span class="date small"></span> <span class="pageNumber"></span></span>',
      },
    }),
    ...(clock ? { clock } : {}),
  });

  it("dates the header and footer with the job's clock, after hydrating them", async () => {
    const doc = await prepareDocument({}, "acme", request(CLOCK));
    expect(doc.output.pdf?.headerTemplate).toBe(`<span >${STAMP}</span>`);
    expect(doc.output.pdf?.footerTemplate).toBe(
      `<span>INV-7 <span class="small">${STAMP}</span> <span class="pageNumber"></span></span>`,
    );
  });

  it("leaves the date to Chromium without a clock", async () => {
    const doc = await prepareDocument({}, "acme", request());
    expect(doc.output.pdf?.headerTemplate).toBe('<span class="date"></span>');
    expect(doc.output.pdf?.footerTemplate).toBe(
      '<span>INV-7 <span class="date small"></span> <span class="pageNumber"></span></span>',
    );
  });
});
