import { describe, expect, it } from "vitest";
import { MemoryJobStore, MemoryRenderQueue } from "../../functions/adapters/memory/memory-ports.js";
import {
  MemoryAssetStore,
  MemoryTemplateSourceStore,
  MemoryTemplateStore,
} from "../../functions/adapters/memory/template-asset-fakes.js";
import { ASSETS } from "../../functions/core/assets.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { apiEvent, KEY_A, KEY_B, memoryApiDeps, sequentialIds } from "./support/api.js";

function setup() {
  const jobs = new MemoryJobStore();
  const queue = new MemoryRenderQueue();
  const templates = { versions: new MemoryTemplateStore(), sources: new MemoryTemplateSourceStore() };
  const assets = new MemoryAssetStore();
  const handler = makeHandler(memoryApiDeps({ jobs, queue, templates, assets, newId: sequentialIds() }));
  return { handler, jobs, queue, templates, assets };
}

function event(
  method: string,
  path: string,
  options: { key?: string; body?: string | Buffer; contentType?: string } = {},
) {
  const binary = Buffer.isBuffer(options.body);
  return apiEvent({
    httpMethod: method,
    path,
    headers: {
      ...(options.key ? { "X-Api-Key": options.key } : {}),
      "Content-Type": options.contentType ?? "application/json",
    },
    body:
      options.body === undefined
        ? null
        : binary
          ? (options.body as Buffer).toString("base64")
          : (options.body as string),
    isBase64Encoded: binary,
  });
}

const json = (r: { body: string }) => JSON.parse(r.body);
const post = (path: string, body: unknown, key = KEY_A) =>
  event("POST", path, { key, body: JSON.stringify(body) });

const SCHEMA = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string" }, qty: { type: "integer", minimum: 1 } },
};

describe("templates API", () => {
  it("creates numbered versions, lists them and returns one with its HTML and schema", async () => {
    const { handler } = setup();
    const first = await handler(
      post("/v1/templates", { id: "invoice", html: "<p>{{ name }}</p>", schema: SCHEMA }),
    );
    expect(first.statusCode).toBe(201);
    expect(first.headers?.location).toBe("/v1/templates/invoice/versions/1");
    expect(json(first)).toMatchObject({ id: "invoice", version: 1, hasSchema: true, created: true });
    const second = await handler(post("/v1/templates", { id: "invoice", html: "<p>v2 {{ name }}</p>" }));
    expect(json(second)).toMatchObject({ version: 2, hasSchema: false });
    // The same content as the latest version again: nothing new.
    const same = await handler(post("/v1/templates", { id: "invoice", html: "<p>v2 {{ name }}</p>" }));
    expect([same.statusCode, json(same).version, json(same).created]).toEqual([200, 2, false]);

    const list = await handler(event("GET", "/v1/templates/invoice", { key: KEY_A }));
    expect(json(list)).toMatchObject({ id: "invoice", latestVersion: 2 });
    expect(json(list).versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    const one = await handler(event("GET", "/v1/templates/invoice/versions/1", { key: KEY_A }));
    expect(json(one)).toMatchObject({ version: 1, html: "<p>{{ name }}</p>", schema: SCHEMA });
  });

  it("answers 404 for another tenant's template and for versions that do not exist", async () => {
    const { handler } = setup();
    await handler(post("/v1/templates", { id: "invoice", html: "x" }));
    expect((await handler(event("GET", "/v1/templates/invoice", { key: KEY_B }))).statusCode).toBe(404);
    expect((await handler(event("GET", "/v1/templates/invoice/versions/1", { key: KEY_B }))).statusCode).toBe(
      404,
    );
    expect((await handler(event("GET", "/v1/templates/invoice/versions/2", { key: KEY_A }))).statusCode).toBe(
      404,
    );
    expect(
      (await handler(event("GET", "/v1/templates/invoice/versions/latest", { key: KEY_A }))).statusCode,
    ).toBe(404);
  });

  it("refuses a template that does not parse or a schema that does not compile, naming the field", async () => {
    const { handler } = setup();
    const bad = await handler(post("/v1/templates", { id: "x", html: "{% if a %}" }));
    expect(bad.statusCode).toBe(400);
    expect(json(bad).error.fields).toEqual([
      { field: "html", message: expect.stringContaining("not closed") },
    ]);
    const schema = await handler(post("/v1/templates", { id: "x", html: "ok", schema: { type: 5 } }));
    expect(json(schema).error.fields[0].field).toBe("schema");
  });
});

describe("renders of stored templates", () => {
  it("queues a render of an exact version whose data satisfies the schema", async () => {
    const { handler, jobs } = setup();
    await handler(post("/v1/templates", { id: "invoice", html: "<p>{{ name }}</p>", schema: SCHEMA }));
    const res = await handler(
      post("/v1/renders", {
        template: { id: "invoice", version: 1 },
        data: { name: "Ada" },
        output: { format: "pdf" },
      }),
    );
    expect(res.statusCode).toBe(202);
    expect((await jobs.getRequest("a", json(res).id))?.template).toEqual({ id: "invoice", version: 1 });
  });

  it("answers 400 naming each field that violates the schema, and queues nothing", async () => {
    const { handler, queue } = setup();
    await handler(post("/v1/templates", { id: "invoice", html: "<p>{{ name }}</p>", schema: SCHEMA }));
    const res = await handler(
      post("/v1/renders", {
        template: { id: "invoice", version: 1 },
        data: { qty: 0 },
        output: { format: "pdf" },
      }),
    );
    expect(res.statusCode).toBe(400);
    expect(json(res).error.fields).toEqual(
      expect.arrayContaining([
        { field: "data.name", message: "required" },
        { field: "data.qty", message: "must be >= 1" },
      ]),
    );
    expect(queue.messages).toEqual([]);
  });

  it('answers 400 for "latest", a missing version, and another tenant\'s template', async () => {
    const { handler } = setup();
    await handler(post("/v1/templates", { id: "invoice", html: "x" }));
    const render = (template: unknown, key = KEY_A) =>
      handler(post("/v1/renders", { template, output: { format: "png" } }, key));
    const latest = await render({ id: "invoice", version: "latest" });
    expect(json(latest).error.fields[0]).toMatchObject({
      field: "template.version",
      message: expect.stringContaining("latest"),
    });
    expect(json(await render({ id: "invoice", version: 3 })).error.fields[0].message).toMatch(/no version 3/);
    expect(json(await render({ id: "invoice", version: 1 }, KEY_B)).error.fields[0]).toEqual({
      field: "template.id",
      message: "there is no template invoice",
    });
  });

  it("validates assets, page options and output options at submission", async () => {
    const { handler } = setup();
    const render = (extra: Record<string, unknown>) =>
      handler(post("/v1/renders", { template: { html: "x" }, output: { format: "png" }, ...extra }));
    const fields = async (extra: Record<string, unknown>) =>
      json(await render(extra)).error.fields.map((f: { field: string }) => f.field);
    expect(await fields({ assets: { logo: "../etc/passwd" } })).toEqual(["assets.logo"]);
    expect(await fields({ waitFor: { selector: "#a", timeoutMs: 999_999 } })).toEqual(["waitFor.timeoutMs"]);
    expect(await fields({ clock: "soon" })).toEqual(["clock"]);
    expect(await fields({ resourceErrors: "maybe" })).toEqual(["resourceErrors"]);
    expect(await fields({ waitFor: { expression: "1" } })).toEqual(["waitFor.expression"]);
    expect(
      (
        await render({
          assets: { logo: "brand/logo.png" },
          clock: "2026-01-01T00:00:00Z",
          waitFor: { expression: "1" },
          javascript: true,
        })
      ).statusCode,
    ).toBe(202);
  });
});

describe("assets API", () => {
  it("stores an asset under the tenant's prefix with its content type", async () => {
    const { handler, assets } = setup();
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const res = await handler(
      event("PUT", "/v1/assets/brand/logo-v2.png", { key: KEY_A, body: png, contentType: "image/png" }),
    );
    expect(res.statusCode).toBe(201);
    expect(json(res)).toMatchObject({ key: "brand/logo-v2.png", bytes: 4, contentType: "image/png" });
    expect(await assets.head("assets/a/brand/logo-v2.png")).toMatchObject({
      bytes: 4,
      contentType: "image/png",
    });
    expect(await assets.head("assets/b/brand/logo-v2.png")).toBeUndefined();
  });

  it("refuses bad keys, types Kiln does not serve, empty and oversized bodies", async () => {
    const { handler } = setup();
    const put = (path: string, body: Buffer, contentType = "image/png") =>
      handler(event("PUT", path, { key: KEY_A, body, contentType }));
    expect((await put("/v1/assets/a/../b.png", Buffer.from("x"))).statusCode).toBe(400);
    expect((await put("/v1/assets/page.html", Buffer.from("<p>"), "text/html")).statusCode).toBe(415);
    expect((await put("/v1/assets/empty.png", Buffer.alloc(0))).statusCode).toBe(400);
    const big = await put("/v1/assets/big.png", Buffer.alloc(ASSETS.maxBytes + 1));
    expect(big.statusCode).toBe(413);
    // The answer names the way large files go.
    expect(json(big).error).toMatchObject({
      code: "payload_too_large",
      message: expect.stringContaining("POST /v1/asset-uploads"),
    });
  });
});
