import { describe, expect, it } from "vitest";
import {
  MemoryAssetStore,
  MemoryTemplateSourceStore,
  MemoryTemplateStore,
} from "../../functions/adapters/memory/template-asset-fakes.js";
import { assetObjectKey } from "../../functions/core/assets.js";
import { PermanentRenderError } from "../../functions/core/errors.js";
import { OutputOptionsSchema } from "../../functions/core/output-options.js";
import type { SignedUrl } from "../../functions/core/ports.js";
import { prepareDocument } from "../../functions/core/prepare-document.js";
import { parseOrThrow } from "../../functions/core/render-request.js";
import { createTemplateVersion, TemplateLoader } from "../../functions/core/templates.js";

const NOW = new Date("2026-11-20T10:00:00Z");

function setup() {
  const templates = { versions: new MemoryTemplateStore(), sources: new MemoryTemplateSourceStore() };
  const assets = new MemoryAssetStore();
  const signed: Array<{ tenant: string; keys: readonly string[]; ttl: number | undefined; at: number }> = [];
  let now = NOW.getTime();
  const signer = {
    async sign(tenant: string, keys: readonly string[], ttl?: number): Promise<SignedUrl[]> {
      signed.push({ tenant, keys, ttl, at: now });
      const expires = Math.floor(now / 1000) + (ttl ?? 300);
      return keys.map((key) => ({ key, url: `https://cdn.test/${key}?Expires=${expires}`, expiresAt: "" }));
    },
  };
  return {
    templates,
    assets,
    signed,
    advance: (ms: number) => {
      now += ms;
    },
    deps: { templates: new TemplateLoader(templates), assets: { assets, signer, ttlSeconds: 120 } },
  };
}

const pdf = (extra: Record<string, unknown> = {}) =>
  parseOrThrow(OutputOptionsSchema, { format: "pdf", ...extra });

describe("prepareDocument (worker steps 1–3)", () => {
  it("renders the named version with signed asset URLs minted at render time, and hydrates header and footer", async () => {
    const s = setup();
    await createTemplateVersion(
      s.templates,
      "acme",
      { id: "letter", html: "<h1>{{ to }}</h1><img src=\"{{ 'logo' | asset_url }}\">" },
      NOW,
    );
    await createTemplateVersion(s.templates, "acme", { id: "letter", html: "<h1>v2 {{ to }}</h1>" }, NOW);
    await s.assets.put(assetObjectKey("acme", "brand/logo.png"), new Uint8Array([1]), "image/png");
    // The job waited in the queue for an hour: nothing was signed until now.
    s.advance(3_600_000);
    expect(s.signed).toEqual([]);
    const doc = await prepareDocument(s.deps, "acme", {
      template: { id: "letter", version: 1 },
      data: { to: "Ada & Co", n: "INV-7" },
      assets: { logo: "brand/logo.png" },
      output: pdf({ pdf: { footerTemplate: '<span>{{ n }} · <span class="pageNumber"></span></span>' } }),
      clock: "2026-01-01T00:00:00.000Z",
    });
    expect(doc.html).toBe(
      `<h1>Ada &amp; Co</h1><img src="https://cdn.test/assets/acme/brand/logo.png?Expires=${Math.floor((NOW.getTime() + 3_600_000) / 1000) + 120}">`,
    );
    expect(s.signed).toEqual([
      { tenant: "acme", keys: ["assets/acme/brand/logo.png"], ttl: 120, at: NOW.getTime() + 3_600_000 },
    ]);
    expect(doc.output.pdf?.footerTemplate).toBe('<span>INV-7 · <span class="pageNumber"></span></span>');
    expect(doc.page).toEqual({
      clock: "2026-01-01T00:00:00.000Z",
      resourceErrors: "fail",
      javascript: false,
      blockedRequests: "fail",
      allowHosts: [],
    });
  });

  it("fails permanently for a missing version, a missing asset, or an undeclared asset name", async () => {
    const s = setup();
    await createTemplateVersion(s.templates, "acme", { id: "letter", html: "{{ 'logo' | asset_url }}" }, NOW);
    const attempt = (request: Parameters<typeof prepareDocument>[2]) =>
      prepareDocument(s.deps, "acme", request).catch((e: unknown) => e);
    const missingVersion = await attempt({ template: { id: "letter", version: 2 }, data: {}, output: pdf() });
    expect(missingVersion).toBeInstanceOf(PermanentRenderError);
    expect(missingVersion).toMatchObject({ code: "template_missing" });
    expect(
      await attempt({
        template: { id: "letter", version: 1 },
        data: {},
        assets: { logo: "nope.png" },
        output: pdf(),
      }),
    ).toMatchObject({ code: "asset_missing", message: expect.stringContaining('"logo" (nope.png)') });
    expect(await attempt({ template: { id: "letter", version: 1 }, data: {}, output: pdf() })).toMatchObject({
      code: "template_error",
      message: expect.stringContaining('asset "logo"'),
    });
    // Nothing was signed for jobs that could not render.
    expect(s.signed).toEqual([]);
  });

  it("renders inline HTML without touching templates or assets", async () => {
    const doc = await prepareDocument({}, "acme", {
      template: { html: "<p>{{ x }}</p>" },
      data: { x: 1 },
      output: pdf(),
    });
    expect(doc.html).toBe("<p>1</p>");
    // JavaScript off and blocked requests failing the job unless the request says otherwise.
    expect(doc.page).toEqual({
      resourceErrors: "fail",
      javascript: false,
      blockedRequests: "fail",
      allowHosts: [],
    });
  });
});

describe("a template version's PDF metadata", () => {
  it("lies under the job's own, field by field, and is a new version when it changes", async () => {
    const s = setup();
    const metadata = { author: "Kiln Mutual", title: "Policy", language: "en-GB" };
    await createTemplateVersion(
      s.templates,
      "acme",
      { id: "p", html: "<p>x</p>", pdfMetadata: metadata },
      NOW,
    );
    const same = await createTemplateVersion(
      s.templates,
      "acme",
      { id: "p", html: "<p>x</p>", pdfMetadata: metadata },
      NOW,
    );
    expect(same).toMatchObject({ created: false, version: { version: 1 } });
    const changed = await createTemplateVersion(
      s.templates,
      "acme",
      { id: "p", html: "<p>x</p>", pdfMetadata: { ...metadata, author: "Other" } },
      NOW,
    );
    expect(changed).toMatchObject({ created: true, version: { version: 2 } });

    const withJob = await prepareDocument(s.deps, "acme", {
      template: { id: "p", version: 1 },
      data: {},
      output: pdf({ pdf: { metadata: { title: "HM-42" } } }),
    });
    expect(withJob.output.pdf?.metadata).toEqual({
      author: "Kiln Mutual",
      title: "HM-42",
      language: "en-GB",
    });
    const alone = await prepareDocument(s.deps, "acme", {
      template: { id: "p", version: 1 },
      data: {},
      output: pdf(),
    });
    expect(alone.output.pdf).toMatchObject({ metadata, landscape: false, printBackground: true });
    const png = await prepareDocument(s.deps, "acme", {
      template: { id: "p", version: 1 },
      data: {},
      output: parseOrThrow(OutputOptionsSchema, { format: "png" }),
    });
    expect(png.output.pdf).toBeUndefined();
  });
});
