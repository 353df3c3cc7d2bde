import { describe, expect, it } from "vitest";
import {
  MemoryTemplateSourceStore,
  MemoryTemplateStore,
} from "../../functions/adapters/memory/template-asset-fakes.js";
import { NotFoundError, PermanentRenderError, ValidationError } from "../../functions/core/errors.js";
import { parseOrThrow } from "../../functions/core/render-request.js";
import {
  CreateTemplateSchema,
  createTemplateVersion,
  getTemplateVersion,
  TemplateLoader,
  TemplateRefSchema,
  templateSourceKey,
} from "../../functions/core/templates.js";

const now = new Date("2026-11-20T10:00:00Z");
const deps = () => ({ versions: new MemoryTemplateStore(), sources: new MemoryTemplateSourceStore() });
const fieldsOf = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).issues;
};

describe("template versions", () => {
  it("numbers versions from 1, stores the HTML by content, and returns the latest again for an identical upload", async () => {
    const d = deps();
    const v1 = await createTemplateVersion(d, "acme", { id: "invoice", html: "<p>{{ a }}</p>" }, now);
    const v2 = await createTemplateVersion(d, "acme", { id: "invoice", html: "<p>{{ b }}</p>" }, now);
    const again = await createTemplateVersion(d, "acme", { id: "invoice", html: "<p>{{ b }}</p>" }, now);
    expect([v1.version.version, v2.version.version, again.version.version]).toEqual([1, 2, 2]);
    expect([v1.created, v2.created, again.created]).toEqual([true, true, false]);
    expect(d.sources.objects.get(templateSourceKey("acme", v2.version.sha256))).toBe("<p>{{ b }}</p>");
    // A new schema with the same HTML is a new version.
    const v3 = await createTemplateVersion(
      d,
      "acme",
      { id: "invoice", html: "<p>{{ b }}</p>", schema: { type: "object" } },
      now,
    );
    expect(v3.version.version).toBe(3);
    expect((await d.versions.list("acme", "invoice")).map((v) => v.version)).toEqual([1, 2, 3]);
  });

  it("gives concurrent uploads different numbers without transactions: the loser takes the next one", async () => {
    const d = deps();
    let raced = false;
    d.versions.beforeCreate = async (tenant, v) => {
      if (raced) return;
      raced = true;
      // Another upload wins number v.version between our read of the latest and our put.
      await d.versions.create(tenant, { ...v, sha256: "other", bytes: 1 });
    };
    const mine = await createTemplateVersion(d, "acme", { id: "card", html: "<b>x</b>" }, now);
    expect(mine).toMatchObject({ created: true, version: { version: 2 } });
    expect((await d.versions.list("acme", "card")).map((v) => v.sha256.slice(0, 5))).toEqual([
      "other",
      mine.version.sha256.slice(0, 5),
    ]);
  });

  it("keeps tenants apart and answers 404 for a version that does not exist", async () => {
    const d = deps();
    await createTemplateVersion(d, "acme", { id: "invoice", html: "x" }, now);
    await expect(getTemplateVersion(d, "globex", "invoice", 1)).rejects.toBeInstanceOf(NotFoundError);
    await expect(getTemplateVersion(d, "acme", "invoice", 2)).rejects.toThrow(/no version 2/);
    expect((await getTemplateVersion(d, "acme", "invoice", 1)).version).toBe(1);
  });

  it("refuses a template that does not parse, naming html with the line, and a schema that does not compile", async () => {
    const d = deps();
    const html = await fieldsOf(
      (async () =>
        parseOrThrow(CreateTemplateSchema, { id: "bad", html: "<p>\n{% if x %}never closed</p>" }))(),
    );
    expect(html).toEqual([
      { field: "html", message: expect.stringMatching(/not closed \(line 2, column 1\)$/) },
    ]);
    const inline = await fieldsOf(
      (async () => parseOrThrow(TemplateRefSchema, { html: "<p>{{ total </p>" }))(),
    );
    expect(inline).toEqual([
      { field: "html", message: expect.stringMatching(/not closed \(line 1, column 4\)$/) },
    ]);
    const schema = await fieldsOf(
      createTemplateVersion(d, "acme", { id: "bad", html: "<p></p>", schema: { type: "bogus" } }, now),
    );
    expect(schema[0]?.field).toBe("schema");
    expect(await d.versions.list("acme", "bad")).toEqual([]);
  });

  it("validates the upload body: id characters, html present", () => {
    expect(() => parseOrThrow(CreateTemplateSchema, { id: "../x", html: "a" })).toThrow(/id/);
    expect(() => parseOrThrow(CreateTemplateSchema, { id: "ok" })).toThrow(/html: required/);
  });
});

describe("template references in a render request", () => {
  it("accepts inline html or an id with an exact version", () => {
    expect(parseOrThrow(TemplateRefSchema, { html: "<p/>" })).toEqual({ html: "<p/>" });
    expect(parseOrThrow(TemplateRefSchema, { id: "invoice", version: 3 })).toEqual({
      id: "invoice",
      version: 3,
    });
  });

  it('never resolves "latest" and requires the version', () => {
    expect(() => parseOrThrow(TemplateRefSchema, { id: "invoice", version: "latest" })).toThrow(
      /version: must be a version number .*never renders "latest"/,
    );
    expect(() => parseOrThrow(TemplateRefSchema, { id: "invoice" })).toThrow(/version: required/);
    expect(() => parseOrThrow(TemplateRefSchema, { id: "invoice", version: 0 })).toThrow(/version/);
    expect(() => parseOrThrow(TemplateRefSchema, { html: "x", id: "invoice", version: 1 })).toThrow(
      /not both/,
    );
    expect(() => parseOrThrow(TemplateRefSchema, {})).toThrow(/html: required/);
  });
});

describe("TemplateLoader", () => {
  it("loads a version's HTML once and fails a job whose version is missing", async () => {
    const d = deps();
    await createTemplateVersion(d, "acme", { id: "invoice", html: "<p>v1</p>" }, now);
    const loader = new TemplateLoader(d);
    expect(await loader.html("acme", "invoice", 1)).toBe("<p>v1</p>");
    expect(await loader.html("acme", "invoice", 1)).toBe("<p>v1</p>");
    expect(d.sources.gets).toBe(1);
    const missing = await loader.html("acme", "invoice", 9).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PermanentRenderError);
    expect(missing).toMatchObject({ code: "template_missing" });
    await expect(loader.html("globex", "invoice", 1)).rejects.toThrow(/does not exist/);
  });
});
