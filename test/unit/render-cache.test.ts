import { describe, expect, it } from "vitest";
import {
  EchoRenderer,
  FixedClock,
  MemoryIdempotencyStore,
  MemoryJobStore,
  MemoryObjectStore,
  MemoryPayloadStore,
  MemoryRenderCache,
  MemoryRenderQueue,
  MemoryWebhookQueue,
  RecordingMetrics,
} from "../../functions/adapters/memory/memory-ports.js";
import { MemoryTenantSettingsStore } from "../../functions/adapters/memory/memory-tenant-settings-store.js";
import { MemoryAssetStore } from "../../functions/adapters/memory/template-asset-fakes.js";
import { type AssetInfo, assetObjectKey } from "../../functions/core/assets.js";
import {
  cacheEntryExpiry,
  cacheKey,
  canonicalJson,
  inputDigests,
  renderBypassReason,
  requestBypassReason,
} from "../../functions/core/render-cache.js";
import { type RenderJobDeps, renderJob } from "../../functions/core/render-job.js";
import {
  parseOrThrow,
  type RenderRequest,
  RenderRequestSchema,
} from "../../functions/core/render-request.js";
import { RENDERER, type RendererIdentity } from "../../functions/core/renderer-identity.js";
import { type SubmitRenderDeps, submitRender } from "../../functions/core/submit-render.js";
import type { TenantSettings } from "../../functions/core/tenant-settings.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { apiEvent, KEY_A, memoryApiDeps } from "./support/api.js";

const request = (fields: Record<string, unknown> = {}): RenderRequest =>
  parseOrThrow(RenderRequestSchema, {
    template: { html: "<h1>{{ name }}</h1><img src=\"{{ 'logo' | asset_url }}\">" },
    data: { name: "Ada", items: [1, 2] },
    assets: { logo: "brand/logo.png" },
    output: { format: "pdf", width: 794, height: 1123 },
    ...fields,
  });

const LOGO: AssetInfo = {
  bytes: 120,
  contentType: "image/png",
  etag: '"5d41402abc4b2a76b9719d911017c592"',
  lastModified: "2026-01-01T00:00:00.000Z",
};

const keyOf = (
  r: RenderRequest,
  logo: AssetInfo = LOGO,
  renderer: RendererIdentity = RENDERER,
  templateSha256?: string,
) => cacheKey(inputDigests(r, templateSha256, { logo }), renderer);

describe("the render-cache key", () => {
  const base = keyOf(request());

  it("is the same for the same inputs, whatever the order of keys in the data", () => {
    expect(keyOf(request())).toBe(base);
    expect(keyOf(request({ data: { items: [1, 2], name: "Ada" } }))).toBe(base);
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
  });

  it("misses when any single input changes", () => {
    const changed: Record<string, string> = {
      "one character of the template": keyOf(
        request({ template: { html: "<h2>{{ name }}</h2><img src=\"{{ 'logo' | asset_url }}\">" } }),
      ),
      "one character of the data": keyOf(request({ data: { name: "Adb", items: [1, 2] } })),
      "the order of an array in the data": keyOf(request({ data: { name: "Ada", items: [2, 1] } })),
      "the asset a name points at": keyOf(request({ assets: { logo: "brand/logo-v2.png" } })),
      "the asset's content (ETag)": keyOf(request(), { ...LOGO, etag: '"7d793037a0760186574b0282f2f435e7"' }),
      "a re-upload of the asset under its key": keyOf(request(), {
        ...LOGO,
        lastModified: "2026-01-02T00:00:00.000Z",
      }),
      "the output format": keyOf(request({ output: { format: "png", width: 794, height: 1123 } })),
      "the output width": keyOf(request({ output: { format: "pdf", width: 795, height: 1123 } })),
      "a PDF option": keyOf(
        request({ output: { format: "pdf", width: 794, height: 1123, pdf: { landscape: true } } }),
      ),
      "the clock": keyOf(request({ clock: "2026-01-01T00:00:00Z" })),
      "the media emulated": keyOf(request({ emulateMedia: "screen" })),
      "what is waited for": keyOf(request({ waitFor: { selector: "h1" } })),
      "resource errors": keyOf(request({ resourceErrors: "ignore" })),
      "Kiln's version": keyOf(request(), LOGO, { ...RENDERER, kiln: "0.1.1" }),
      "the Chromium build": keyOf(request(), LOGO, { ...RENDERER, chromium: "153.0.8011.0" }),
      "the font pack": keyOf(request(), LOGO, { ...RENDERER, fontPack: "0".repeat(64) }),
    };
    for (const [input, key] of Object.entries(changed)) expect(key, input).not.toBe(base);
    expect(new Set(Object.values(changed)).size).toBe(Object.keys(changed).length);
  });

  it("takes a stored template's content hash for its HTML", () => {
    const stored = request({ template: { id: "invoice", version: 3 } });
    expect(keyOf(stored, LOGO, RENDERER, "a".repeat(64))).not.toBe(
      keyOf(stored, LOGO, RENDERER, "b".repeat(64)),
    );
    expect(inputDigests(stored, "a".repeat(64), { logo: LOGO }).template).toBe("a".repeat(64));
  });

  it("ignores what does not change the bytes: the render budget and the cache switch", () => {
    expect(keyOf(request({ timeoutMs: 5000 }))).toBe(base);
    expect(keyOf(request({ cache: true }))).toBe(base);
  });

  it("never matches an asset that was missing at submission to one that exists", () => {
    const missing = cacheKey(inputDigests(request(), undefined, {}), RENDERER);
    expect(missing).not.toBe(base);
    expect(inputDigests(request(), undefined, {}).assets.logo).toBe("missing");
  });
});

const NO_HOSTS: TenantSettings = { egress: { allowHosts: [] } } as unknown as TenantSettings;
const SOME_HOSTS: TenantSettings = {
  egress: { allowHosts: ["fonts.example.com"] },
} as unknown as TenantSettings;

describe("which jobs the cache serves", () => {
  it("not a job that opts out, a URL job, scripts, or a tenant whose templates may load external hosts", () => {
    expect(requestBypassReason(request(), false, NO_HOSTS)).toBeUndefined();
    expect(requestBypassReason(request({ cache: false }), false, NO_HOSTS)).toMatch(/cache: false/);
    const urlJob = parseOrThrow(RenderRequestSchema, {
      source: { url: "https://example.com/" },
      output: { format: "png", width: 10, height: 10 },
    });
    expect(requestBypassReason(urlJob, false, NO_HOSTS)).toMatch(/URL job/);
    expect(requestBypassReason(request({ javascript: true }), false, NO_HOSTS)).toMatch(/JavaScript/);
    expect(requestBypassReason(request(), true, NO_HOSTS)).toMatch(/JavaScript/);
    expect(requestBypassReason(request(), false, SOME_HOSTS)).toMatch(/allowlist/);
  });

  it("not a protected PDF, nor one whose parts, stamp images or attachments come from elsewhere", () => {
    const pdf = (fields: Record<string, unknown>) =>
      request({ output: { format: "pdf", width: 794, height: 1123, pdf: fields } });
    expect(requestBypassReason(pdf({ stamps: [{ text: "DRAFT" }] }), false, NO_HOSTS)).toBeUndefined();
    expect(requestBypassReason(pdf({ protection: { userPassword: "specimen" } }), false, NO_HOSTS)).toMatch(
      /password/,
    );
    expect(requestBypassReason(pdf({ stamps: [{ image: "brand/seal.png" }] }), false, NO_HOSTS)).toMatch(
      /stamp images/,
    );
    expect(
      requestBypassReason(
        pdf({ attachments: [{ asset: "data/premiums.csv", name: "premiums.csv", mimeType: "text/csv" }] }),
        false,
        NO_HOSTS,
      ),
    ).toMatch(/attachments/);
    expect(
      requestBypassReason(pdf({ parts: [{ asset: "docs/terms.pdf", bookmark: "Terms" }] }), false, NO_HOSTS),
    ).toMatch(/parts/);
  });

  const rendered = (r: RenderRequest, html: string, lastModified = LOGO.lastModified) => ({
    request: r,
    html,
    templateJavaScript: false,
    settings: NO_HOSTS,
    assets: { logo: { ...LOGO, lastModified } },
    now: new Date("2026-01-02T00:00:00Z"),
  });

  it("keeps no output that read the time without a clock", () => {
    expect(renderBypassReason(rendered(request(), "<p>{{ name }}</p>"))).toBeUndefined();
    expect(renderBypassReason(rendered(request(), '<p>{{ "now" | date: "%Y" }}</p>'))).toMatch(
      /date or time/,
    );
    // Data may say "now" too: any date filter counts.
    expect(renderBypassReason(rendered(request(), "<p>{{ issued | date: '%b' }}</p>"))).toMatch(
      /date or time/,
    );
    const dated = request({
      output: {
        format: "pdf",
        width: 794,
        height: 1123,
        pdf: { footerTemplate: '<span class="date"></span>' },
      },
    });
    expect(renderBypassReason(rendered(dated, "<p></p>"))).toMatch(/date or time/);
    const unquoted = request({
      output: { format: "pdf", width: 794, height: 1123, pdf: { headerTemplate: "<b class=date></b>" } },
    });
    expect(renderBypassReason(rendered(unquoted, "<p></p>"))).toMatch(/date or time/);
    const other = request({
      output: {
        format: "pdf",
        width: 794,
        height: 1123,
        pdf: { headerTemplate: '<b class="pageNumber"></b>' },
      },
    });
    expect(renderBypassReason(rendered(other, "<p></p>"))).toBeUndefined();
    const pinned = request({
      clock: "2026-01-01T00:00:00Z",
      output: {
        format: "pdf",
        width: 794,
        height: 1123,
        pdf: { footerTemplate: '<span class="date"></span>' },
      },
    });
    expect(renderBypassReason(rendered(pinned, '<p>{{ "now" | date: "%Y" }}</p>'))).toBeUndefined();
  });

  it("keeps no output made while an asset may still be served old by the CDN", () => {
    expect(renderBypassReason(rendered(request(), "<p></p>", "2026-01-01T23:58:00.000Z"))).toMatch(
      /asset changed/,
    );
    expect(renderBypassReason(rendered(request(), "<p></p>", "2026-01-01T23:54:59.000Z"))).toBeUndefined();
  });

  it("lets an entry live the job retention after its output's PUT, which outputs outlive", () => {
    expect(cacheEntryExpiry(new Date("2026-01-01T00:00:00Z"), 30)).toBe("2026-01-31T00:00:00.000Z");
  });
});

/** The api's submission and the worker's render on one set of in-memory stores. */
function pipeline() {
  const clock = new FixedClock(new Date("2026-01-02T00:00:00Z"));
  const jobs = new MemoryJobStore();
  const queue = new MemoryRenderQueue();
  const webhooks = new MemoryWebhookQueue();
  const entries = new MemoryRenderCache();
  const assets = new MemoryAssetStore(() => new Date("2026-01-01T00:00:00Z"));
  const settings = new MemoryTenantSettingsStore();
  const renderer = new EchoRenderer();
  const outputs = new MemoryObjectStore();
  const payloads = new MemoryPayloadStore();
  let n = 0;
  const submitDeps: SubmitRenderDeps = {
    jobs,
    queue,
    payloads,
    idempotency: new MemoryIdempotencyStore(),
    clock,
    newId: () => `job-${++n}`,
    renderCache: { entries, rendererIdentity: RENDERER, assets, settings, webhooks },
  };
  const workerDeps: RenderJobDeps = {
    jobs,
    renderer,
    outputs,
    payloads,
    webhooks,
    clock,
    settings,
    assets: {
      assets,
      signer: {
        sign: async (_t, keys) => keys.map((key) => ({ key, url: `https://cdn.test/${key}`, expiresAt: "" })),
      },
      ttlSeconds: 300,
    },
    lease: { leaseMs: 20_000, renewEveryMs: 60_000 },
    retry: { baseSeconds: 1, maxSeconds: 5 },
    rendererIdentity: RENDERER,
    renderCache: { entries, jobRetentionDays: 30 },
  };
  const renderQueued = async () => {
    for (const message of queue.messages.splice(0)) {
      await renderJob(workerDeps, message, { receiveCount: 1, maxReceiveCount: 4 });
    }
  };
  return {
    clock,
    jobs,
    queue,
    webhooks,
    entries,
    assets,
    settings,
    renderer,
    outputs,
    submitDeps,
    renderQueued,
  };
}

const submission = (fields: Record<string, unknown> = {}) => ({ ...request(fields), callbackUrl: undefined });

/** A request without assets. */
const inline = (html: string) => {
  const { assets: _, ...rest } = request({ template: { html } });
  return { ...rest, callbackUrl: undefined };
};

describe("a submission the cache holds an output for", () => {
  it("succeeds at once with the earlier output: no message, no render, no PUT", async () => {
    const p = pipeline();
    await p.assets.put(assetObjectKey("t", "brand/logo.png"), new Uint8Array([1, 2]), "image/png");
    const first = await submitRender(p.submitDeps, "t", submission());
    expect(first.job).toMatchObject({ status: "queued", cache: { state: "miss" } });
    await p.renderQueued();
    const rendered = await p.jobs.get("t", first.job.id);
    expect(rendered?.status).toBe("succeeded");
    // The worker used what the api digested: the job's own provenance stands, not repeated on the output.
    expect(first.job.provenance?.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    expect(rendered?.provenance).toEqual(first.job.provenance);
    expect(rendered?.output?.provenance).toBeUndefined();

    const renders = p.renderer.calls.length;
    const puts = p.outputs.objects.size;
    const second = await submitRender(p.submitDeps, "t", submission());
    expect(second.job).toMatchObject({
      status: "succeeded",
      attempts: 0,
      cache: { state: "hit", sourceJobId: first.job.id },
      output: { sha256: rendered?.output?.sha256, key: rendered?.output?.key },
    });
    expect(p.queue.messages).toEqual([]);
    expect(p.renderer.calls.length).toBe(renders);
    expect(p.outputs.objects.size).toBe(puts);
    expect(second.job.provenance).toEqual(first.job.provenance);
    // A hit lasts no longer than the output it shares.
    expect(second.job.retainUntil).toBe("2026-02-01T00:00:00.000Z");
    expect(await p.jobs.get("t", second.job.id)).toMatchObject({ status: "succeeded" });
  });

  it("renders anew for changed data, a re-uploaded asset, another tenant, or cache: false", async () => {
    const p = pipeline();
    await p.assets.put(assetObjectKey("t", "brand/logo.png"), new Uint8Array([1, 2]), "image/png");
    await submitRender(p.submitDeps, "t", submission());
    await p.renderQueued();

    const changedData = await submitRender(
      p.submitDeps,
      "t",
      submission({ data: { name: "Adb", items: [1, 2] } }),
    );
    expect(changedData.job.status).toBe("queued");
    const otherTenant = await submitRender(p.submitDeps, "u", submission());
    expect(otherTenant.job.status).toBe("queued");
    const optedOut = await submitRender(p.submitDeps, "t", submission({ cache: false }));
    expect(optedOut.job).toMatchObject({ status: "queued", cache: { state: "bypass" } });
    expect(optedOut.job.provenance).toBeUndefined();

    // The same bytes uploaded again are a new version of the asset.
    await p.assets.put(assetObjectKey("t", "brand/logo.png"), new Uint8Array([1, 2]), "image/png");
    p.assets.objects.set(assetObjectKey("t", "brand/logo.png"), {
      body: new Uint8Array([1, 2]),
      contentType: "image/png",
      lastModified: "2026-01-01T12:00:00.000Z",
    });
    const reuploaded = await submitRender(p.submitDeps, "t", submission());
    expect(reuploaded.job).toMatchObject({ status: "queued", cache: { state: "miss" } });
    expect(p.queue.messages).toHaveLength(4);
  });

  it("is filled under the key of what the worker rendered, when an asset changed after submission", async () => {
    const p = pipeline();
    const logo = assetObjectKey("t", "brand/logo.png");
    await p.assets.put(logo, new Uint8Array([1]), "image/png");
    const submitted = await submitRender(p.submitDeps, "t", submission());
    p.assets.objects.set(logo, {
      body: new Uint8Array([2]),
      contentType: "image/png",
      lastModified: "2026-01-01T06:00:00.000Z",
    });
    await p.renderQueued();
    const rendered = await p.jobs.get("t", submitted.job.id);
    const used = rendered?.output?.provenance;
    expect(used?.inputs.assets.logo).not.toBe(submitted.job.provenance?.inputs.assets.logo);
    expect([...p.entries.entries.keys()]).toEqual([`t/${used?.cacheKey}`]);
    // The view shows what the worker used.
    expect((await submitRender(p.submitDeps, "t", submission())).job).toMatchObject({
      cache: { state: "hit", sourceJobId: submitted.job.id },
      provenance: used,
    });
  });

  it("queues a hit's webhook, and again on a retry with its Idempotency-Key until one is tried", async () => {
    const p = pipeline();
    await p.assets.put(assetObjectKey("t", "brand/logo.png"), new Uint8Array([1]), "image/png");
    await submitRender(p.submitDeps, "t", submission());
    await p.renderQueued();
    p.webhooks.messages.length = 0;
    const withCallback = { ...request(), callbackUrl: "https://hooks.example.com/k" };
    const hit = await submitRender(p.submitDeps, "t", withCallback, "retry-1", "corr-1");
    expect(hit.job).toMatchObject({ status: "succeeded", webhook: { state: "pending", attempts: [] } });
    expect(p.webhooks.messages.map((m) => m.message)).toEqual([
      { tenant: "t", jobId: hit.job.id, attempt: 1, correlationId: "corr-1" },
    ]);
    const replay = await submitRender(p.submitDeps, "t", withCallback, "retry-1", "corr-1");
    expect(replay).toMatchObject({ replayed: true, job: { id: hit.job.id } });
    expect(p.webhooks.messages).toHaveLength(2);
  });

  it("is not filled by a render that read the time, nor served to a tenant that allowlists hosts", async () => {
    const p = pipeline();
    const dated = inline('<p>{{ "now" | date: "%Y" }}</p>');
    await submitRender(p.submitDeps, "t", dated);
    await p.renderQueued();
    expect(p.entries.entries.size).toBe(0);
    expect((await submitRender(p.submitDeps, "t", dated)).job.status).toBe("queued");

    const plain = inline("<p>{{ name }}</p>");
    await submitRender(p.submitDeps, "t", plain);
    await p.renderQueued();
    expect(p.entries.entries.size).toBe(1);
    await p.settings.put("t", SOME_HOSTS, p.clock.now());
    const bypassed = await submitRender(p.submitDeps, "t", plain);
    expect(bypassed.job).toMatchObject({ status: "queued", cache: { state: "bypass" } });
  });

  it("never serves an entry past its expiry", async () => {
    const p = pipeline();
    const plain = inline("<p>{{ name }}</p>");
    await submitRender(p.submitDeps, "t", plain);
    await p.renderQueued();
    p.clock.advance(30 * 86_400_000);
    expect((await submitRender(p.submitDeps, "t", plain)).job.status).toBe("queued");
  });
});

describe("POST /v1/renders answered from the render cache", () => {
  it("is 200 with the succeeded job, its output URL and provenance, and counts the hit", async () => {
    const p = pipeline();
    const metrics = new RecordingMetrics();
    const handler = makeHandler(
      memoryApiDeps({
        jobs: p.jobs,
        queue: p.queue,
        clock: p.clock,
        renderCache: p.submitDeps.renderCache,
        metrics,
      }),
    );
    const event = () =>
      apiEvent({
        httpMethod: "POST",
        path: "/v1/renders",
        headers: { "X-Api-Key": KEY_A, "Content-Type": "application/json" },
        body: JSON.stringify({
          template: { html: "<p>{{ name }}</p>" },
          data: { name: "Ada" },
          output: { format: "png", width: 10, height: 10 },
        }),
      });
    const first = await handler(event());
    expect(first.statusCode).toBe(202);
    await p.renderQueued();
    expect(metrics.cacheHits).toEqual([]);

    const second = await handler(event());
    expect(second.statusCode).toBe(200);
    const view = JSON.parse(second.body);
    expect(view).toMatchObject({
      status: "succeeded",
      cache: "hit",
      cachedFrom: JSON.parse(first.body).id,
      output: { url: expect.stringContaining("outputs/a/"), contentType: "image/png" },
      provenance: { renderer: RENDERER, cacheKey: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(metrics.cacheHits).toEqual([{ format: "png" }]);
  });
});
