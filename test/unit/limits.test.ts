import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assertPageCount } from "../../functions/adapters/chromium/page-readiness.js";
import {
  MemoryApiKeyStore,
  MemoryJobStore,
  MemoryRenderQueue,
} from "../../functions/adapters/memory/memory-ports.js";
import { ASSETS, mebibytes } from "../../functions/core/assets.js";
import { PermanentRenderError } from "../../functions/core/errors.js";
import { prepareDocument } from "../../functions/core/prepare-document.js";
import { LIMITS, RenderRequestSchema, tooDeepAt } from "../../functions/core/render-request.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { API_GATEWAY_MAX_PAYLOAD_BYTES } from "../../functions/handlers/api/http-errors.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";
import { apiEvent, KEY_A as KEY, memoryApiDeps } from "./support/api.js";

/** Every request limit: enforced at submission with a 400 or 413 naming the field and the limit. */

const VALID = { template: { html: "<p>{{ n }}</p>" }, data: { n: 1 }, output: { format: "png" } };

function setup() {
  const queue = new MemoryRenderQueue();
  const jobs = new MemoryJobStore();
  const handler = makeHandler(memoryApiDeps({ jobs, queue }));
  const submit = async (body: unknown) => {
    const res = await handler(
      apiEvent({
        httpMethod: "POST",
        path: "/v1/renders",
        headers: { "x-api-key": KEY, "content-type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  return { submit, queue, jobs };
}

/** A refusal: the status, the fields named, and nothing queued. */
async function refused(body: unknown) {
  const { submit, queue } = setup();
  const res = await submit(body);
  expect(queue.messages).toEqual([]);
  return res;
}

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { d: value };
  return value;
};

describe("request limits at POST /v1/renders", () => {
  it("413s a body over requestBytes, naming the limit", async () => {
    const res = await refused({ ...VALID, data: { blob: "x".repeat(LIMITS.requestBytes) } });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: "payload_too_large" });
    expect(res.body.error.message).toContain(String(LIMITS.requestBytes));
  });

  it("400s inline HTML over htmlBytes, naming template.html and the limit", async () => {
    const res = await refused({ ...VALID, template: { html: "x".repeat(LIMITS.htmlBytes + 1) } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([
      { field: "template.html", message: `must be at most ${LIMITS.htmlBytes} bytes` },
    ]);
  });

  it("400s data over dataBytes as JSON (a body that is itself small enough), naming data and the limit", async () => {
    // Multi-byte characters: the limit is in bytes, not characters.
    const blob = "é".repeat(LIMITS.dataBytes / 2);
    const res = await refused({ ...VALID, data: { blob } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([
      { field: "data", message: expect.stringContaining(`at most ${LIMITS.dataBytes} bytes`) },
    ]);
  });

  it("accepts data just under dataBytes", async () => {
    const { submit, queue } = setup();
    const res = await submit({ ...VALID, data: { blob: "x".repeat(LIMITS.dataBytes - 100) } });
    expect(res.status).toBe(202);
    expect(queue.messages).toHaveLength(1);
  });

  it("400s JSON nested deeper than jsonDepth, naming the path, without exhausting the stack", async () => {
    const deep = await refused({ ...VALID, data: nested(LIMITS.jsonDepth + 5) });
    expect(deep.status).toBe(400);
    expect(deep.body.error.fields[0].field).toMatch(/^data(\.d)+$/);
    expect(deep.body.error.fields[0].message).toContain(`at most ${LIMITS.jsonDepth} levels`);

    const hostile = await refused("[".repeat(1_000_000) + "]".repeat(1_000_000));
    expect(hostile.status).toBe(400);
    expect(hostile.body.error.message).toContain("nested too deeply");
  });

  it("accepts data nested as deep as allowed inside the body", async () => {
    const { submit } = setup();
    // The body is one level, data another: data may hold jsonDepth − 2 more.
    expect((await submit({ ...VALID, data: { d: nested(LIMITS.jsonDepth - 2) } })).status).toBe(202);
    expect((await submit({ ...VALID, data: { d: nested(LIMITS.jsonDepth - 1) } })).status).toBe(400);
  });

  it("400s more than assetsPerRender assets, naming assets and the limit", async () => {
    const assets = Object.fromEntries(
      Array.from({ length: LIMITS.assetsPerRender + 1 }, (_, i) => [`a${i}`, `k/${i}.png`]),
    );
    const res = await refused({ ...VALID, assets });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([
      { field: "assets", message: `at most ${LIMITS.assetsPerRender} assets per job` },
    ]);
  });

  it("400s an image over maxPixels device pixels, naming the fields and the limit", async () => {
    const res = await refused({ ...VALID, output: { format: "png", width: 4096, height: 4096, scale: 2 } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields).toEqual([
      { field: "output.width", message: expect.stringContaining(String(LIMITS.maxPixels)) },
    ]);
  });

  it("lets a job lower its render timeout but not raise it above the worker's budget", async () => {
    const over = await refused({ ...VALID, timeoutMs: LIMITS.renderTimeoutMs + 1 });
    expect(over.status).toBe(400);
    expect(over.body.error.fields).toEqual([
      { field: "timeoutMs", message: expect.stringContaining(`at most ${LIMITS.renderTimeoutMs} ms`) },
    ]);
    const under = await refused({ ...VALID, timeoutMs: 10 });
    expect(under.body.error.fields).toEqual([
      { field: "timeoutMs", message: `must be at least ${LIMITS.minRenderTimeoutMs} ms` },
    ]);

    const { submit, jobs } = setup();
    const accepted = await submit({ ...VALID, timeoutMs: 5_000 });
    expect(accepted.status).toBe(202);
    expect((await jobs.getRequest("a", accepted.body.id))?.timeoutMs).toBe(5_000);
  });
});

describe("limits past submission", () => {
  it("hands a job's own render timeout to the renderer", async () => {
    const request = RenderRequestSchema.parse({ ...VALID, timeoutMs: 2_500 });
    expect((await prepareDocument({}, "a", request)).page.timeoutMs).toBe(2_500);
    const plain = RenderRequestSchema.parse(VALID);
    expect((await prepareDocument({}, "a", plain)).page.timeoutMs).toBeUndefined();
  });

  it("fails a PDF over maxPdfPages with output_too_large, naming the count and the limit", () => {
    const pdf = (pages: number) =>
      new TextEncoder().encode(`%PDF-1.7\n1 0 obj\n<< /Type /Pages /Count ${pages} >>\n`);
    expect(() => assertPageCount(pdf(LIMITS.maxPdfPages))).not.toThrow();
    const error = (() => {
      try {
        assertPageCount(pdf(LIMITS.maxPdfPages + 1));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(PermanentRenderError);
    expect(error).toMatchObject({ code: "output_too_large" });
    expect((error as Error).message).toContain(
      `${LIMITS.maxPdfPages + 1} pages; at most ${LIMITS.maxPdfPages}`,
    );
  });

  it("finds the first path nested too deeply, iteratively", () => {
    // Three levels: the object, the array, the object in it.
    expect(tooDeepAt({ a: [1, { b: 1 }] }, 3)).toBeUndefined();
    expect(tooDeepAt({ a: [1, { b: {} }] }, 3)).toEqual(["a", "1", "b"]);
    expect(tooDeepAt("text", 0)).toBeUndefined();
  });
});

describe("tenant names", () => {
  it("refuses a key registered for a tenant name that could reach into another tenant's keys", async () => {
    const handler = makeHandler(
      memoryApiDeps({ apiKeys: new MemoryApiKeyStore({ "acme/../globex": "key-with-a-bad-tenant" }) }),
    );
    const res = await handler(
      apiEvent({
        httpMethod: "GET",
        path: "/v1/webhooks/secret",
        headers: { "x-api-key": "key-with-a-bad-tenant" },
      }),
    );
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain("globex");
    expect(res.body).not.toContain("whsec_");
  });
});

describe("the limits table in docs/security.md", () => {
  it("quotes every limit with the value the API enforces", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs", "security.md"), "utf8");
    const quoted = new Map(
      [...doc.matchAll(/^\|\s*`(\w+)`\s*\|\s*([\d,]+)\s*\|/gm)].map((m) => [
        m[1] as string,
        Number((m[2] as string).replaceAll(",", "")),
      ]),
    );
    const enforced = Object.entries(LIMITS).filter(([name]) => name !== "inlineRequestBytes");
    for (const [name, value] of enforced)
      expect({ name, quoted: quoted.get(name) }).toEqual({ name, quoted: value });
  });
});

describe("request sizes in README.md and docs/", () => {
  const docs = ["README.md", "docs/api.md", "docs/deploy.md", "docs/operations.md", "docs/security.md"].map(
    (path) => ({
      path,
      text: readFileSync(join(REPO_ROOT, path), "utf8"),
    }),
  );
  /** The first size after each mention of `subject`, within a sentence or table cell. */
  const sizesAfter = (subject: RegExp) =>
    docs.flatMap(({ path, text }) =>
      [...text.matchAll(new RegExp(`${subject.source}[^.|0-9]{0,40}?(\\d+ ?(?:KiB|MiB|KB|MB))`, "g"))].map(
        (m) => `${path}: ${m[1]}`,
      ),
    );
  const stated = (entries: string[]) => new Set(entries.map((e) => e.split(": ")[1]));

  it("give a body only the limits the code enforces: 3 MiB, 128 KiB kept inline, 10 MiB at API Gateway", () => {
    const bodies = sizesAfter(/[Bb]od(?:y|ies)/);
    expect(bodies.length).toBeGreaterThan(5);
    expect(stated(bodies)).toEqual(
      new Set([
        mebibytes(LIMITS.requestBytes),
        `${LIMITS.inlineRequestBytes / 1024} KiB`,
        mebibytes(API_GATEWAY_MAX_PAYLOAD_BYTES),
      ]),
    );
  });

  it("give a file only the API's 4 MiB and the upload URL's 50 MiB, and name the upload route", () => {
    const files = sizesAfter(/(?:[Ff]iles?|[Aa]ssets?)\b/);
    expect(files.length).toBeGreaterThan(5);
    expect(stated(files)).toEqual(new Set([mebibytes(ASSETS.maxBytes), mebibytes(ASSETS.maxUploadBytes)]));
    for (const { path, text } of docs)
      expect({ path, names: text.includes("POST /v1/asset-uploads") }).toEqual({ path, names: true });
  });
});
