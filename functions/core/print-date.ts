/**
 * A PDF header or footer element with class `date` is filled by Chromium with the time of printing,
 * so such a PDF differs on every render. With a job clock, Kiln writes that instant into those
 * elements itself and takes the `date` class off, which leaves Chromium nothing to fill.
 */

/** The class Chromium fills with the print date. */
const DATE_CLASS = "date";

/**
 * `instant` as Chromium writes it into `class="date"`: short date and short time in the page's time
 * zone (UTC) and Chromium's locale, which it takes from `LANG` (en_US.UTF-8 on Lambda), e.g.
 * `1/2/26, 12:05 AM`. Written out rather than taken from `Intl`, so that it does not change with
 * the ICU data of the Node runtime (ICU 72 put a narrow no-break space before AM/PM).
 */
export function chromiumPrintDate(instant: string): string {
  const at = new Date(instant);
  if (Number.isNaN(at.getTime())) throw new RangeError(`not an instant: ${instant}`);
  const hours = at.getUTCHours();
  const year = String(at.getUTCFullYear() % 100).padStart(2, "0");
  const minutes = String(at.getUTCMinutes()).padStart(2, "0");
  return `${at.getUTCMonth() + 1}/${at.getUTCDate()}/${year}, ${hours % 12 || 12}:${minutes} ${hours < 12 ? "AM" : "PM"}`;
}

/**
 * Gives every element of `template` whose class list holds `date` the text `chromiumPrintDate(instant)`
 * in place of its content, as Chromium's `textContent` would, and removes `date` from its class list.
 * Comments and raw-text elements (script, style…) are left as they are. An element without an end
 * tag gets the date after its start tag and keeps what follows, rather than guessing where the HTML
 * parser would close it.
 */
export function stampPrintDate(template: string, instant: string): string {
  const date = chromiumPrintDate(instant);
  const tags = [...scanTags(template)];
  let out = "";
  let copied = 0;
  for (let i = 0; i < tags.length; i++) {
    const start = tags[i];
    if (start?.kind !== "start" || start.start < copied) continue;
    const classAttr = start.attributes.find((a) => a.name === "class");
    const classes = classAttr ? splitClasses(classAttr.value) : [];
    if (!classAttr || !classes.includes(DATE_CLASS)) continue;

    out += template.slice(copied, classAttr.start) + classAttribute(classes, classAttr.quote);
    out += template.slice(classAttr.end, start.end);
    copied = start.end;
    if (VOID_ELEMENTS.has(start.name)) continue;
    out += date;
    const end = matchingEndTag(tags, i);
    // Skipping the content also skips any date element inside it, which the text replaces.
    if (end) copied = end.start;
  }
  return out + template.slice(copied);
}

/** The end tag that closes `tags[open]`, counting nested elements of the same name. */
function matchingEndTag(tags: readonly Tag[], open: number): Tag | undefined {
  const name = tags[open]?.name;
  let depth = 1;
  for (let i = open + 1; i < tags.length; i++) {
    const tag = tags[i];
    if (!tag || tag.name !== name) continue;
    depth += tag.kind === "start" ? 1 : -1;
    if (depth === 0) return tag;
  }
  return undefined;
}

/** Elements that have no content, so no text to set. */
const VOID_ELEMENTS = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "track",
  "wbr",
]);

/** Elements whose content the HTML parser reads as text up to their end tag. */
const RAW_TEXT_ELEMENTS = new Set([
  "script",
  "style",
  "textarea",
  "title",
  "xmp",
  "iframe",
  "noembed",
  "noframes",
]);

interface Attribute {
  /** Lower-cased. */
  readonly name: string;
  readonly value: string;
  /** The whole attribute, name to end of value. */
  readonly start: number;
  readonly end: number;
  readonly quote: '"' | "'" | "";
}

interface Tag {
  readonly kind: "start" | "end";
  /** Lower-cased. */
  readonly name: string;
  readonly start: number;
  /** Just past the `>`. */
  readonly end: number;
  readonly attributes: readonly Attribute[];
}

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\f" || c === "\r";
const isLetter = (c: string | undefined) => c !== undefined && /^[A-Za-z]$/.test(c);

function splitClasses(value: string): string[] {
  return value.split(/[ \t\n\f\r]+/).filter((c) => c !== "");
}

/** The class attribute without `date`; nothing when no class remains. */
function classAttribute(classes: readonly string[], quote: Attribute["quote"]): string {
  const kept = classes.filter((c) => c !== DATE_CLASS);
  if (kept.length === 0) return "";
  const q = quote === "" ? '"' : quote;
  return `class=${q}${kept.join(" ")}${q}`;
}

/**
 * The start and end tags of `html` in order, read the way the HTML tokenizer reads them (quoted
 * values may hold `>` and `<`); one pass, so the time is linear in the template's length.
 */
function* scanTags(html: string): Generator<Tag, void, undefined> {
  // ASCII only, so that indices stay those of `html`.
  const lower = html.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  let at = 0;
  while (at < html.length) {
    const lt = html.indexOf("<", at);
    if (lt === -1) return;
    const next = html[lt + 1];
    if (html.startsWith("<!--", lt)) {
      const close = html.indexOf("-->", lt + 4);
      if (close === -1) return;
      at = close + 3;
    } else if (isLetter(next) || (next === "/" && isLetter(html[lt + 2]))) {
      const tag = readTag(html, lt);
      if (!tag) return;
      yield tag;
      at = tag.end;
      if (tag.kind === "start" && RAW_TEXT_ELEMENTS.has(tag.name)) {
        const close = findEndTag(lower, tag.name, at);
        if (close === -1) return;
        at = close;
      }
    } else if (next === "!" || next === "?" || next === "/") {
      // Doctype and bogus comments end at the next `>`.
      const close = html.indexOf(">", lt + 2);
      if (close === -1) return;
      at = close + 1;
    } else {
      at = lt + 1;
    }
  }
}

/** Where `</name` begins in the lower-cased template at or after `from`; -1 if nowhere. */
function findEndTag(lower: string, name: string, from: number): number {
  for (let at = lower.indexOf(`</${name}`, from); at !== -1; at = lower.indexOf(`</${name}`, at + 2)) {
    const after = lower[at + 2 + name.length];
    if (after === undefined || after === ">" || after === "/" || isSpace(after)) return at;
  }
  return -1;
}

/** The tag opening at `lt`, or undefined when the template ends inside it (the parser drops it). */
function readTag(html: string, lt: number): Tag | undefined {
  const kind = html[lt + 1] === "/" ? "end" : "start";
  let at = kind === "end" ? lt + 2 : lt + 1;
  const nameStart = at;
  while (at < html.length && !isSpace(html[at]) && html[at] !== "/" && html[at] !== ">") at++;
  const name = html.slice(nameStart, at).toLowerCase();
  const attributes: Attribute[] = [];
  while (at < html.length) {
    const c = html[at];
    if (c === ">") return { kind, name, start: lt, end: at + 1, attributes };
    if (isSpace(c) || c === "/") {
      at++;
      continue;
    }
    const start = at;
    // An attribute name may begin with `=`; it ends before space, `/`, `>` or `=`.
    at++;
    while (at < html.length && !isSpace(html[at]) && !"/>=".includes(html[at] ?? "")) at++;
    const attrName = html.slice(start, at).toLowerCase();
    let valueAt = at;
    while (isSpace(html[valueAt])) valueAt++;
    if (html[valueAt] !== "=") {
      attributes.push({ name: attrName, value: "", start, end: at, quote: "" });
      continue;
    }
    valueAt++;
    while (isSpace(html[valueAt])) valueAt++;
    const quote = html[valueAt];
    if (quote === '"' || quote === "'") {
      const close = html.indexOf(quote, valueAt + 1);
      if (close === -1) return undefined;
      attributes.push({
        name: attrName,
        value: html.slice(valueAt + 1, close),
        start,
        end: close + 1,
        quote,
      });
      at = close + 1;
    } else {
      at = valueAt;
      while (at < html.length && !isSpace(html[at]) && html[at] !== ">") at++;
      attributes.push({ name: attrName, value: html.slice(valueAt, at), start, end: at, quote: "" });
    }
  }
  return undefined;
}
