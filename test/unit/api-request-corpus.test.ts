import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { describe, expect, it } from "vitest";
import { MemoryBatchQueue, MemoryBatchStore } from "../../functions/adapters/memory/batch-fakes.js";
import { MemoryJobStore } from "../../functions/adapters/memory/memory-ports.js";
import { MemoryTenantSettingsStore } from "../../functions/adapters/memory/memory-tenant-settings-store.js";
import {
  MemoryTemplateSourceStore,
  MemoryTemplateStore,
} from "../../functions/adapters/memory/template-asset-fakes.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { openApiDocument } from "../../functions/handlers/api/openapi.js";
import { apiEvent, KEY_A, memoryApiDeps, sequentialIds } from "./support/api.js";

/**
 * One corpus of request bodies, each judged twice: by the published OpenAPI document (ajv on the
 * document's own JSON Schemas, not the zod source) and by the api function (the real handler and
 * schemas on in-memory stores). They must accept and refuse the same bodies, except the few listed as
 * semantic-only, whose rule JSON Schema cannot state: there the document accepts and the API answers 400.
 */

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

type OperationKey = "POST /v1/renders" | "POST /v1/batches" | "POST /v1/templates" | "PUT /v1/settings";

interface Case {
  readonly name: string;
  readonly op: OperationKey;
  readonly body: unknown;
  /** Why only the API can refuse this body: the rule JSON Schema cannot state. */
  readonly semanticOnly?: string;
}

/** `base` with the value at `path` replaced (`undefined` removes it). */
function patch(base: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split(".");
  let at = copy;
  for (const key of keys.slice(0, -1)) {
    at[key] ??= {};
    at = at[key] as Record<string, unknown>;
  }
  const last = keys.at(-1) as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

const nested = (depth: number): unknown => (depth === 0 ? "leaf" : { level: nested(depth - 1) });

const RENDER = { template: { html: "<p>{{ name }}</p>" }, data: { name: "Ada" }, output: { format: "png" } };
const PDF = { ...RENDER, output: { format: "pdf" } };
const render = (name: string, path: string, value: unknown): Case => ({
  name,
  op: "POST /v1/renders",
  body: patch(RENDER, path, value),
});
const pdf = (name: string, path: string, value: unknown): Case => ({
  name,
  op: "POST /v1/renders",
  body: patch(PDF, path, value),
});
const whole = (op: OperationKey, name: string, body: unknown, semanticOnly?: string): Case => ({
  name,
  op,
  body,
  ...(semanticOnly ? { semanticOnly } : {}),
});

const VALID_RENDERS: Case[] = [
  whole("POST /v1/renders", "the smallest png request", RENDER),
  render("without data", "data", undefined),
  render("nested data, arrays and unicode", "data", {
    a: [1, { b: [null, true] }],
    name: "Zoë 日本",
    n: nested(20),
  }),
  render("viewport at its limits", "output", { format: "png", width: 4096, height: 4096 }),
  render("a 1×1 viewport", "output", { format: "png", width: 1, height: 1 }),
  render("scale 4", "output", { format: "png", width: 800, height: 600, scale: 4 }),
  render("dpi 96", "output", { format: "png", dpi: 96 }),
  render("dpi 384", "output", { format: "webp", width: 800, height: 600, dpi: 384 }),
  render("jpeg quality 1", "output", { format: "jpeg", quality: 1 }),
  render("webp quality 100, transparent", "output", { format: "webp", quality: 100, transparent: true }),
  render("jpeg with transparent false", "output", { format: "jpeg", transparent: false }),
  render("full page", "output", { format: "png", fullPage: true }),
  render("fullPage false beside a clip", "output", {
    format: "png",
    fullPage: false,
    clip: { x: 0, y: 0, width: 100, height: 50 },
  }),
  render("a selector", "output", { format: "png", selector: "#card" }),
  pdf("pdf with A4 landscape", "output.pdf", { pageSize: "A4", landscape: true }),
  pdf("pdf paper name in any case", "output.pdf", { pageSize: "lEtTeR" }),
  pdf("pdf paper by size", "output.pdf", { pageSize: { width: "210mm", height: 1122.5 } }),
  pdf("margins with a bare 0", "output.pdf.margin", { top: "0", right: 0, bottom: "10mm", left: " 1.5in " }),
  pdf("margins in cm and px", "output.pdf.margin", { top: "2.5cm", bottom: "40px" }),
  pdf("header, footer and page ranges", "output.pdf", {
    headerTemplate: "<span class='pageNumber'></span>",
    footerTemplate: "<span class='totalPages'></span>",
    pageRanges: "1-3, 5, 8-",
    printBackground: false,
    preferCssPageSize: true,
  }),
  render("a stored template version", "template", { id: "invoice", version: 1 }),
  render("wait for a selector", "waitFor", { selector: ".ready", timeoutMs: 20_000 }),
  whole("POST /v1/renders", "wait for an expression with javascript", {
    ...RENDER,
    waitFor: { expression: "window.ready === true" },
    javascript: true,
  }),
  render("a frozen clock with an offset", "clock", "2026-01-01T00:00:00+02:00"),
  render("resource errors ignored", "resourceErrors", "ignore"),
  render("blocked requests ignored", "blockedRequests", "ignore"),
  render("timeout at its minimum", "timeoutMs", 1000),
  render("timeout at its maximum", "timeoutMs", 30_000),
  render("a callback URL", "callbackUrl", "https://hooks.example.com/kiln?x=1"),
  render("assets by name", "assets", { logo: "brand/logo.png", font_1: "fonts/inter.woff2" }),
  render("50 assets", "assets", Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`a${i}`, "x.png"]))),
  render("javascript off", "javascript", false),
];

const INVALID_RENDERS: Case[] = [
  render("html a number", "template.html", 42),
  render("html empty", "template.html", ""),
  render("template missing", "template", undefined),
  render("template empty", "template", {}),
  render("template html and id", "template", { html: "<p/>", id: "invoice", version: 1 }),
  render("stored template without version", "template", { id: "invoice" }),
  render('version "latest"', "template", { id: "invoice", version: "latest" }),
  render("version 0", "template", { id: "invoice", version: 0 }),
  render("version 1.5", "template", { id: "invoice", version: 1.5 }),
  render("version beside inline html", "template", { html: "<p/>", version: 1 }),
  render("template id with a slash", "template", { id: "../x", version: 1 }),
  render("an unknown template key", "template.engine", "liquid"),
  render("data a string", "data", "hi"),
  render("data an array", "data", [1, 2]),
  render("data null", "data", null),
  render("output missing", "output", undefined),
  render("format gif", "output.format", "gif"),
  render("width a string", "output.width", "800"),
  render("width 0", "output.width", 0),
  render("width 4097", "output.width", 4097),
  render("height 4097", "output.height", 4097),
  render("width 1.5", "output.width", 1.5),
  render("scale 0.5", "output.scale", 0.5),
  render("scale 4.01", "output.scale", 4.01),
  render("dpi 95", "output.dpi", 95),
  render("dpi 385", "output.dpi", 385),
  render("scale and dpi", "output", { format: "png", scale: 2, dpi: 192 }),
  render("quality on png", "output.quality", 80),
  render("jpeg quality 0", "output", { format: "jpeg", quality: 0 }),
  render("jpeg quality 101", "output", { format: "jpeg", quality: 101 }),
  render("jpeg transparent", "output", { format: "jpeg", transparent: true }),
  render("full page and clip", "output", {
    format: "png",
    fullPage: true,
    clip: { x: 0, y: 0, width: 9, height: 9 },
  }),
  render("clip and selector", "output", {
    format: "png",
    selector: "p",
    clip: { x: 0, y: 0, width: 9, height: 9 },
  }),
  render("full page and selector", "output", { format: "png", selector: "p", fullPage: true }),
  render("empty selector", "output.selector", ""),
  render("clip without height", "output.clip", { x: 0, y: 0, width: 10 }),
  render("clip width 0", "output.clip", { x: 0, y: 0, width: 0, height: 10 }),
  render("clip x negative", "output.clip", { x: -1, y: 0, width: 10, height: 10 }),
  render("pdf options on png", "output.pdf", { landscape: true }),
  pdf("clip on pdf", "output.clip", { x: 0, y: 0, width: 10, height: 10 }),
  pdf("full page on pdf", "output.fullPage", true),
  pdf("quality on pdf", "output.quality", 50),
  pdf("paper b5", "output.pdf.pageSize", "b5"),
  pdf("paper a number", "output.pdf.pageSize", 5),
  pdf("paper size without height", "output.pdf.pageSize", { width: "10cm" }),
  pdf('margin "5" without a unit', "output.pdf.margin.top", "5"),
  pdf('margin "00"', "output.pdf.margin.top", "00"),
  pdf("margin negative", "output.pdf.margin.top", "-1mm"),
  pdf("margin negative number", "output.pdf.margin.left", -1),
  pdf("margin in pt", "output.pdf.margin.left", "12pt"),
  pdf("margin number over 100 inches", "output.pdf.margin.left", 9601),
  pdf("margin a boolean", "output.pdf.margin.left", true),
  pdf("a margin side that does not exist", "output.pdf.margin.middle", "1mm"),
  pdf("page ranges in words", "output.pdf.pageRanges", "first to third"),
  pdf("page ranges of 201 characters", "output.pdf.pageRanges", `1${",1".repeat(100)}`),
  pdf("landscape a string", "output.pdf.landscape", "yes"),
  render("an unknown output key", "output.colour", "red"),
  render("waitFor empty", "waitFor", {}),
  render("waitFor both", "waitFor", { selector: "p", expression: "true" }),
  render("waitFor expression without javascript", "waitFor", { expression: "window.ready" }),
  render("waitFor timeout 0", "waitFor", { selector: "p", timeoutMs: 0 }),
  render("waitFor timeout 20001", "waitFor", { selector: "p", timeoutMs: 20_001 }),
  render("waitFor selector of 1025 characters", "waitFor", { selector: "p".repeat(1025) }),
  render("clock in words", "clock", "tomorrow"),
  render("clock month 13", "clock", "2026-13-01T00:00:00Z"),
  render("resourceErrors unknown", "resourceErrors", "maybe"),
  render("blockedRequests unknown", "blockedRequests", "allow"),
  render("javascript a string", "javascript", "yes"),
  render("timeout 999", "timeoutMs", 999),
  render("timeout 30001", "timeoutMs", 30_001),
  render("timeout 1000.5", "timeoutMs", 1000.5),
  render("callback over ftp", "callbackUrl", "ftp://hooks.example.com/kiln"),
  render("callback not a URL", "callbackUrl", "hooks"),
  render("callback of 2049 characters", "callbackUrl", `https://hooks.example.com/${"a".repeat(2023)}`),
  render("an unknown top-level key", "priority", "high"),
  render("an asset name starting with a digit", "assets", { "1logo": "brand/logo.png" }),
  render("an asset key climbing out", "assets", { logo: "../logo.png" }),
  render("an empty asset key", "assets", { logo: "" }),
  render("51 assets", "assets", Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, "x.png"]))),
  whole("POST /v1/renders", "a body that is an array", [RENDER]),
  whole("POST /v1/renders", "a body that is a string", "render please"),
  whole("POST /v1/renders", "a body that is null", null),
];

const SEMANTIC_RENDERS: Case[] = [
  whole(
    "POST /v1/renders",
    "inline html that is not valid Liquid",
    patch(RENDER, "template.html", "<p>{% if x %}never closed</p>"),
    "the html must parse as Liquid",
  ),
  whole(
    "POST /v1/renders",
    "a PDF footer that is not valid Liquid",
    patch(PDF, "output.pdf.footerTemplate", "<span>{{ page </span>"),
    "the footer must parse as Liquid",
  ),
  whole(
    "POST /v1/renders",
    "a version the template does not have",
    patch(RENDER, "template", { id: "invoice", version: 2 }),
    "the stored template must exist at that version",
  ),
  whole(
    "POST /v1/renders",
    "4096² at scale 2",
    patch(RENDER, "output", { format: "png", width: 4096, height: 4096, scale: 2 }),
    "width × height × scale² is arithmetic across fields",
  ),
  whole(
    "POST /v1/renders",
    "a margin of 101in",
    patch(PDF, "output.pdf.margin.top", "101in"),
    "the 100-inch cap depends on the unit inside the string",
  ),
  whole(
    "POST /v1/renders",
    "data nested 40 levels",
    patch(RENDER, "data", { deep: nested(40) }),
    "nesting depth is not a JSON Schema keyword",
  ),
  whole(
    "POST /v1/renders",
    "a callback to a private address",
    patch(RENDER, "callbackUrl", "https://10.0.0.1/hook"),
    "callback hosts must be public, which needs address parsing",
  ),
];

const BATCH = { template: { html: "<p>{{ n }}</p>" }, output: { format: "png" }, records: [{ n: 1 }] };
const batch = (name: string, path: string, value: unknown, semanticOnly?: string): Case => ({
  name: `batch: ${name}`,
  op: "POST /v1/batches",
  body: patch(BATCH, path, value),
  ...(semanticOnly ? { semanticOnly } : {}),
});
const BATCHES: Case[] = [
  batch("the smallest", "zip", undefined),
  batch("zipped", "zip", true),
  batch("two records and a callback", "callbackUrl", "https://hooks.example.com/b"),
  batch("a stored template", "template", { id: "invoice", version: 1 }),
  batch("pdf output", "output", { format: "pdf", pdf: { pageSize: "a5", margin: { top: "0" } } }),
  batch("nested records", "records", [{ n: { a: [1, 2] } }, { n: 2 }]),
  {
    name: "batch: a merged PDF",
    op: "POST /v1/batches",
    body: patch(patch(BATCH, "output.format", "pdf"), "mergePdf", true),
  },
  batch("mergePdf false on images", "mergePdf", false),
];
const INVALID_BATCHES: Case[] = [
  batch("no records", "records", []),
  batch("a number record", "records", [{ n: 1 }, 7]),
  batch("an array record", "records", [[]]),
  batch("records and recordsKey", "recordsKey", "rows.jsonl"),
  batch("neither records nor recordsKey", "records", undefined),
  batch("data beside records", "data", { n: 1 }),
  batch("zip a string", "zip", "yes"),
  batch("a merged PDF of PNGs", "mergePdf", true),
  batch("html a number", "template.html", 42),
  batch(
    "10001 records",
    "records",
    Array.from({ length: 10_001 }, () => ({})),
  ),
  batch("expression without javascript", "waitFor", { expression: "true" }),
  batch("recordsKey climbing out", "records", undefined),
];
// The last one needs its key set too.
INVALID_BATCHES[INVALID_BATCHES.length - 1] = {
  name: "batch: recordsKey climbing out",
  op: "POST /v1/batches",
  body: patch(patch(BATCH, "records", undefined), "recordsKey", "../rows.jsonl"),
};
const SEMANTIC_BATCHES: Case[] = [
  {
    name: "batch: a recordsKey with no such asset",
    op: "POST /v1/batches",
    body: patch(patch(BATCH, "records", undefined), "recordsKey", "rows.jsonl"),
    semanticOnly: "the asset must exist",
  },
  batch("inline html that is not valid Liquid", "template.html", "{{ n", "the html must parse as Liquid"),
];

const TEMPLATE = { id: "card", html: "<b>{{ x }}</b>" };
const template = (name: string, path: string, value: unknown, semanticOnly?: string): Case => ({
  name: `template: ${name}`,
  op: "POST /v1/templates",
  body: patch(TEMPLATE, path, value),
  ...(semanticOnly ? { semanticOnly } : {}),
});
const TEMPLATES: Case[] = [
  template("the smallest", "javascript", undefined),
  template("with a data schema", "schema", { type: "object", required: ["x"] }),
  template("with javascript", "javascript", true),
  template("an id of 100 characters", "id", `a${"b".repeat(99)}`),
  template("an id with . _ -", "id", "inv.2026_v-1"),
];
const INVALID_TEMPLATES: Case[] = [
  template("an id of 101 characters", "id", `a${"b".repeat(100)}`),
  template("an id starting with -", "id", "-card"),
  template("an empty id", "id", ""),
  template("empty html", "html", ""),
  template("html a number", "html", 42),
  template("no html", "html", undefined),
  template("schema a string", "schema", "object"),
  template("an unknown key", "name", "Card"),
  template("javascript 1", "javascript", 1),
];
const SEMANTIC_TEMPLATES: Case[] = [
  template("html that is not valid Liquid", "html", "{% for %}", "the html must parse as Liquid"),
  template("a schema that does not compile", "schema", { type: "bogus" }, "the data schema must compile"),
];

const settings = (name: string, allowHosts: unknown, semanticOnly?: string): Case => ({
  name: `settings: ${name}`,
  op: "PUT /v1/settings",
  body: { egress: { allowHosts } },
  ...(semanticOnly ? { semanticOnly } : {}),
});
const SETTINGS: Case[] = [
  whole("PUT /v1/settings", "settings: empty (defaults)", {}),
  settings("no hosts", []),
  settings("a host and a wildcard", ["cdn.example.com", "*.example.com"]),
  settings("a host in capitals with spaces and a trailing dot", [" CDN.Example.com. "]),
  settings(
    "100 hosts",
    Array.from({ length: 100 }, (_, i) => `h${i}.example.com`),
  ),
];
const INVALID_SETTINGS: Case[] = [
  settings("a string", "cdn.example.com"),
  settings("with a scheme", ["https://cdn.example.com"]),
  settings("with a path", ["cdn.example.com/x"]),
  settings("with a port", ["cdn.example.com:443"]),
  settings("an IPv4 address", ["10.0.0.1"]),
  settings("an IPv4 spelling", ["a.0x7f"]),
  settings("a lone wildcard", ["*"]),
  settings("a single label", ["localhost"]),
  settings(
    "101 hosts",
    Array.from({ length: 101 }, (_, i) => `h${i}.example.com`),
  ),
  settings("a host of 261 characters", [`${"a.".repeat(125)}example.com`]),
  whole("PUT /v1/settings", "settings: an unknown key", { egress: { allowHosts: [] }, retention: 3 }),
  whole("PUT /v1/settings", "settings: egress an array", { egress: [] }),
];
const SEMANTIC_SETTINGS: Case[] = [
  settings("a subdomain of localhost", ["cdn.localhost"], "localhost names are refused by name"),
  settings("a label starting with -", ["-cdn.example.com"], "label rules are checked label by label"),
];

const VALID = [...VALID_RENDERS, ...BATCHES, ...TEMPLATES, ...SETTINGS];
const INVALID = [...INVALID_RENDERS, ...INVALID_BATCHES, ...INVALID_TEMPLATES, ...INVALID_SETTINGS];
const SEMANTIC = [...SEMANTIC_RENDERS, ...SEMANTIC_BATCHES, ...SEMANTIC_TEMPLATES, ...SEMANTIC_SETTINGS];

/** The request body validator of an operation, from the published document alone. */
function documentValidator() {
  const doc = openApiDocument() as {
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
    components: unknown;
  };
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  ajv.addSchema({ $id: "kiln-openapi", components: doc.components }, "kiln-openapi");
  return (op: OperationKey) => {
    const [method, path] = op.split(" ") as [string, string];
    const schema = doc.paths[path]?.[method.toLowerCase()]?.requestBody?.content["application/json"]
      ?.schema as { $ref: string } | undefined;
    if (!schema) throw new Error(`${op} has no JSON body in the document`);
    const validate = ajv.getSchema(`kiln-openapi${schema.$ref}`);
    if (!validate) throw new Error(`no schema ${schema.$ref}`);
    return (body: unknown) => validate(body) === true;
  };
}

/** The api function on in-memory stores, with template invoice v1 stored. */
async function api() {
  const jobs = new MemoryJobStore();
  const handler = makeHandler(
    memoryApiDeps({
      jobs,
      newId: sequentialIds(),
      templates: { versions: new MemoryTemplateStore(), sources: new MemoryTemplateSourceStore() },
      batches: { store: new MemoryBatchStore(jobs), queue: new MemoryBatchQueue() },
      settings: new MemoryTenantSettingsStore(),
    }),
  );
  const call = async (op: OperationKey, body: unknown) => {
    const [httpMethod, path] = op.split(" ") as [string, string];
    return handler(
      apiEvent({
        httpMethod,
        path,
        headers: { "x-api-key": KEY_A, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  };
  const stored = await call("POST /v1/templates", { id: "invoice", html: "<p>{{ name }}</p>" });
  expect(stored.statusCode).toBe(201);
  return call;
}

describe("request corpus: the OpenAPI document (ajv) and the api handler on memory fakes (real handler, real schemas) agree", () => {
  const accepts = documentValidator();

  it("has at least 100 cases across the JSON-body operations, few of them semantic-only", () => {
    expect(VALID.length + INVALID.length + SEMANTIC.length).toBeGreaterThanOrEqual(100);
    expect(new Set([...VALID, ...INVALID].map((c) => c.op)).size).toBe(4);
    expect(SEMANTIC.length).toBeLessThan((VALID.length + INVALID.length) / 10);
  });

  it.each(VALID.map((c) => [c.name, c] as const))("both accept: %s", async (_name, c) => {
    const call = await api();
    expect(accepts(c.op)(c.body), "the document accepts").toBe(true);
    const res = await call(c.op, c.body);
    expect([200, 201, 202], `API answered ${res.statusCode}: ${res.body}`).toContain(res.statusCode);
  });

  it.each(INVALID.map((c) => [c.name, c] as const))("both refuse: %s", async (_name, c) => {
    const call = await api();
    expect(accepts(c.op)(c.body), "the document refuses").toBe(false);
    const res = await call(c.op, c.body);
    expect(res.statusCode, res.body).toBe(400);
  });

  it.each(SEMANTIC.map((c) => [`${c.name} (${c.semanticOnly})`, c] as const))(
    "semantic-only, the document accepts and the API refuses: %s",
    async (_name, c) => {
      const call = await api();
      expect(accepts(c.op)(c.body)).toBe(true);
      const res = await call(c.op, c.body);
      expect(res.statusCode, res.body).toBe(400);
    },
  );
});
