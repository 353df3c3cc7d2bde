import { describe, expect, it } from "vitest";
import { pdfPageCount } from "../../functions/adapters/chromium/pdf-info.js";
import { FakeUrlSigner, FixedClock } from "../../functions/adapters/memory/memory-ports.js";
import { MemoryAssetStore } from "../../functions/adapters/memory/template-asset-fakes.js";
import {
  AssetKeySchema,
  AssetRefsSchema,
  acceptedAssetType,
  assetObjectKey,
  contentTypeForAsset,
  signJobAssets,
} from "../../functions/core/assets.js";
import { PermanentRenderError } from "../../functions/core/errors.js";
import { validateData } from "../../functions/core/json-schema.js";
import {
  ClockSchema,
  OutputOptionsSchema,
  pdfLayout,
  WaitForSchema,
} from "../../functions/core/output-options.js";
import { parseOrThrow } from "../../functions/core/render-request.js";
import { renderTemplate, templateSyntaxError } from "../../functions/core/template-engine.js";

describe("data validation against a template's JSON Schema", () => {
  const schema = {
    type: "object",
    required: ["customer", "items"],
    additionalProperties: false,
    properties: {
      customer: {
        type: "object",
        required: ["name"],
        properties: { name: { type: "string" }, email: { type: "string", format: "email" } },
      },
      items: {
        type: "array",
        items: { type: "object", properties: { qty: { type: "integer", minimum: 1 } } },
      },
    },
  };

  it("names every bad field with its path under data", () => {
    const issues = validateData(schema, {
      customer: { email: "not-an-email" },
      items: [{ qty: 2 }, { qty: 0 }],
      x: 1,
    });
    expect(issues.sort((a, b) => a.field.localeCompare(b.field))).toEqual([
      { field: "data.customer.email", message: 'must match format "email"' },
      { field: "data.customer.name", message: "required" },
      { field: "data.items.1.qty", message: "must be >= 1" },
      { field: "data.x", message: "is not allowed" },
    ]);
    expect(validateData(schema, { customer: { name: "Ada" }, items: [] })).toEqual([]);
  });

  it("understands draft-07 schemas and refuses drafts it does not support", () => {
    const draft7 = { $schema: "http://json-schema.org/draft-07/schema#", type: "object", required: ["a"] };
    expect(validateData(draft7, {})).toEqual([{ field: "data.a", message: "required" }]);
    expect(validateData({ $schema: "http://json-schema.org/draft-04/schema#" }, {})[0]?.message).toMatch(
      /not supported/,
    );
  });
});

describe("assets", () => {
  it("accepts tenant-relative keys made of URL-safe characters only", () => {
    expect(AssetKeySchema.safeParse("brand/logo-v2.png").success).toBe(true);
    for (const bad of ["../x.png", "a//b.png", "/abs.png", "a/./b.png", "logo (1).png", "it's.png"]) {
      expect(AssetKeySchema.safeParse(bad).success, bad).toBe(false);
    }
    expect(() => parseOrThrow(AssetRefsSchema, { "1logo": "a.png" })).toThrow(/1logo/);
  });

  it("maps file names and Content-Type headers to the types Kiln serves", () => {
    expect(contentTypeForAsset("fonts/Script.WOFF2")).toBe("font/woff2");
    expect(contentTypeForAsset("page.html")).toBeUndefined();
    expect(acceptedAssetType("Image/PNG; charset=binary")).toBe("image/png");
    expect(acceptedAssetType("text/html")).toBeUndefined();
  });

  it("checks every asset exists, then signs them all in one call with the render-time TTL", async () => {
    const assets = new MemoryAssetStore();
    await assets.put(assetObjectKey("acme", "brand/logo.png"), new Uint8Array([1]), "image/png");
    await assets.put(assetObjectKey("acme", "fonts/a.woff2"), new Uint8Array([1]), "font/woff2");
    const signer = new FakeUrlSigner(new FixedClock(new Date("2026-11-20T10:00:00Z")));
    const calls: Array<{ tenant: string; keys: readonly string[]; ttl?: number }> = [];
    const recording = {
      sign: async (tenant: string, keys: readonly string[], ttl?: number) => {
        calls.push({ tenant, keys, ...(ttl === undefined ? {} : { ttl }) });
        return signer.sign(tenant, keys);
      },
    };
    const { urls, versions } = await signJobAssets({ assets, signer: recording, ttlSeconds: 120 }, "acme", {
      logo: "brand/logo.png",
      font: "fonts/a.woff2",
      again: "brand/logo.png",
    });
    expect(Object.keys(urls)).toEqual(["logo", "font", "again"]);
    expect(urls.logo).toContain("assets/acme/brand/logo.png");
    // What the render used, for its provenance: each asset's stored version.
    expect(versions.logo).toMatchObject({ bytes: 1, contentType: "image/png", etag: expect.any(String) });
    expect(calls).toEqual([
      { tenant: "acme", keys: ["assets/acme/brand/logo.png", "assets/acme/fonts/a.woff2"], ttl: 120 },
    ]);
  });

  it("fails the job before rendering when an asset is missing, naming it; another tenant's asset is missing too", async () => {
    const assets = new MemoryAssetStore();
    await assets.put(assetObjectKey("globex", "brand/logo.png"), new Uint8Array([1]), "image/png");
    const err = await signJobAssets(
      {
        assets,
        signer: new FakeUrlSigner(new FixedClock(new Date("2026-11-20T10:00:00Z"))),
        ttlSeconds: 300,
      },
      "acme",
      {
        logo: "brand/logo.png",
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentRenderError);
    expect(err).toMatchObject({ code: "asset_missing" });
    expect((err as Error).message).toContain('"logo" (brand/logo.png)');
  });
});

describe("template engine", () => {
  it("inserts signed asset URLs unescaped, while data stays escaped", async () => {
    const url = "https://cdn.example/assets/acme/a.png?Expires=1&Signature=x~y_&Key-Pair-Id=K1";
    const html = await renderTemplate(
      `<img src="{{ 'logo' | asset_url }}"><style>x{background:url("{{ 'logo' | asset_url }}")}</style>{{ t }}`,
      { t: "<b>&</b>" },
      { logo: url },
    );
    expect(html).toBe(`<img src="${url}"><style>x{background:url("${url}")}</style>&lt;b&gt;&amp;&lt;/b&gt;`);
  });

  it("fails with a template_error naming an asset the job does not declare", async () => {
    await expect(renderTemplate("{{ 'logo' | asset_url }}", {}, { font: "u" })).rejects.toMatchObject({
      code: "template_error",
      message: expect.stringContaining('asset "logo" is not among the job\'s assets (font)'),
    });
  });

  it("formats dates in UTC whatever the host's time zone, and reports syntax errors with their line", async () => {
    expect(await renderTemplate("{{ d | date: '%Y-%m-%d %H:%M' }}", { d: "2026-01-01T23:30:00Z" })).toBe(
      "2026-01-01 23:30",
    );
    expect(templateSyntaxError("ok {{ a }}")).toBeUndefined();
    expect(templateSyntaxError("a\nb {{ x | nofilter }}")).toMatch(
      /undefined filter: nofilter \(line 2, column 3\)$/,
    );
  });
});

describe("output options", () => {
  const parse = (o: unknown) => parseOrThrow(OutputOptionsSchema, o);

  it("turns dpi into a scale and defaults the viewport", () => {
    expect(parse({ format: "png", dpi: 192 })).toMatchObject({ width: 1200, height: 800, scale: 2 });
    expect(parse({ format: "png" }).scale).toBe(1);
    expect(() => parse({ format: "png", dpi: 192, scale: 2 })).toThrow(/dpi: give scale or dpi/);
  });

  it("keeps image and pdf options to their formats", () => {
    expect(() => parse({ format: "pdf", fullPage: true })).toThrow(/fullPage does not apply to pdf/);
    expect(() => parse({ format: "png", pdf: {} })).toThrow(/pdf: pdf options apply only/);
    expect(() => parse({ format: "jpeg", transparent: true })).toThrow(/transparent/);
    expect(() => parse({ format: "png", fullPage: true, selector: "#a" })).toThrow(
      /selector: give at most one/,
    );
  });

  it("answers 400 for images above the pixel limit, clip included", () => {
    expect(() => parse({ format: "png", width: 4096, height: 4096, scale: 2 })).toThrow(/width/);
    expect(() =>
      parse({
        format: "png",
        width: 100,
        height: 100,
        clip: { x: 0, y: 0, width: 4096, height: 4096 },
        scale: 2,
      }),
    ).toThrow(/clip/);
  });

  it("reads paper sizes, CSS lengths and page ranges into what Chromium takes", () => {
    const out = parse({
      format: "pdf",
      pdf: {
        pageSize: "letter",
        landscape: true,
        margin: { top: "25.4mm", left: "2.54cm", bottom: 96 },
        pageRanges: "1-2, 4",
      },
    });
    expect(pdfLayout(out.pdf)).toEqual({
      paperWidth: 8.5,
      paperHeight: 11,
      marginTop: 1,
      marginRight: 0,
      marginBottom: 1,
      marginLeft: 1,
      preferCSSPageSize: false,
    });
    expect(pdfLayout(undefined).preferCSSPageSize).toBe(true);
    expect(() => parse({ format: "pdf", pdf: { pageSize: "B5" } })).toThrow(/pageSize/);
    expect(() => parse({ format: "pdf", pdf: { margin: { top: "1 furlong" } } })).toThrow(/margin.top/);
    expect(() => parse({ format: "pdf", pdf: { pageRanges: "one" } })).toThrow(/pageRanges/);
  });

  it("bounds waitFor and normalises the clock", () => {
    expect(parseOrThrow(WaitForSchema, { selector: "#ready" })).toEqual({
      selector: "#ready",
      timeoutMs: 5000,
    });
    expect(() => parseOrThrow(WaitForSchema, { selector: "#a", expression: "1" })).toThrow(/exactly one/);
    expect(() => parseOrThrow(WaitForSchema, { expression: "1", timeoutMs: 60_000 })).toThrow(/timeoutMs/);
    expect(parseOrThrow(ClockSchema, "2026-01-01T01:00:00+01:00")).toBe("2026-01-01T00:00:00.000Z");
    expect(() => parseOrThrow(ClockSchema, "tomorrow")).toThrow();
  });
});

describe("pdfPageCount", () => {
  it("reads the page tree root's count", () => {
    const pdf = Buffer.from(
      "%PDF-1.4\n1 0 obj\n<</Type /Pages /Kids [3 0 R 4 0 R] /Count 7>>\nendobj\n3 0 obj\n<</Type /Pages /Parent 1 0 R /Count 3>>\nendobj\n4 0 obj <</Type /Page /Parent 1 0 R>> endobj\n",
      "latin1",
    );
    expect(pdfPageCount(pdf)).toBe(7);
  });
});
