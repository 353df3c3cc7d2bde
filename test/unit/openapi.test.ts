import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { API_REFERENCE_PATH, renderApiReference } from "../../bin/docs/api-reference.js";
import { FixedClock, MemoryJobStore } from "../../functions/adapters/memory/memory-ports.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { openApiDocument } from "../../functions/handlers/api/openapi.js";
import { API_OPERATIONS } from "../../functions/handlers/api/operations.js";
import { matchRoute } from "../../functions/handlers/api/router.js";
import { apiEvent, KEY_A as KEY, memoryApiDeps } from "./support/api.js";

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020;

const EXAMPLES = join(import.meta.dirname, "../../examples");

function handler() {
  const clock = new FixedClock();
  const jobs = new MemoryJobStore();
  const api = makeHandler(memoryApiDeps({ jobs, clock }));
  return { api, jobs, clock };
}

function event(
  method: string,
  path: string,
  options: { key?: string; body?: string; stagePath?: string } = {},
) {
  return apiEvent({
    httpMethod: method,
    path,
    headers: { ...(options.key ? { "x-api-key": options.key } : {}), "content-type": "application/json" },
    body: options.body ?? null,
    requestContext: { path: options.stagePath ?? path } as APIGatewayProxyEvent["requestContext"],
  });
}

/** A validator for one of the document's component schemas, refs resolved inside the document. */
function componentValidator(name: string) {
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  ajv.addSchema({ $id: "kiln-openapi", components: openApiDocument().components }, "kiln-openapi");
  const validate = ajv.getSchema(`kiln-openapi#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name}`);
  return (value: unknown) =>
    validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe("OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(openApiDocument() as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("the validator does refuse a broken document (the check is live)", async () => {
    const doc = openApiDocument();
    const broken = { ...doc, paths: { "/v1/renders": { post: { responses: "none" } } } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("is what the api function routes by: each operation by its method and path", () => {
    // A concrete path for each operation: every {param} filled in.
    const samplePath = (path: string) => path.replace(/\{[^}]+\}/g, "sample-1");
    for (const op of API_OPERATIONS) {
      const route = `${op.method} ${op.path}`;
      expect(matchRoute(op.method, samplePath(op.path))?.operation, route).toBe(op);
      expect(matchRoute(op.method, `${samplePath(op.path)}/`)?.operation, `${route} with a trailing /`).toBe(
        op,
      );
    }
    expect(matchRoute("GET", "/v1/templates/invoice/versions/2")?.params).toEqual({
      id: "invoice",
      version: "2",
    });
    expect(matchRoute("PUT", "/v1/assets/brand/logo.png")?.params).toEqual({ key: "brand/logo.png" });
    expect(matchRoute("GET", "/v1/renders/a/b")).toBeUndefined();
    const settings = matchRoute("DELETE", "/v1/settings");
    expect(settings?.operation).toBeUndefined();
    expect(settings?.operations.map((op) => op.method)).toEqual(["GET", "PUT"]);
  });

  it("names each operation once", () => {
    const ids = API_OPERATIONS.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const routes = API_OPERATIONS.map((o) => `${o.method} ${o.path}`);
    expect(new Set(routes).size).toBe(routes.length);
  });

  it("describes every field of every schema, and types every one", () => {
    const undescribed: string[] = [];
    const untyped: string[] = [];
    // Fields are reached through properties, items and map values, and the typed alternatives of a
    // union; the untyped fragments under allOf/oneOf/not state rules, not fields.
    const walk = (schema: Record<string, unknown>, path: string) => {
      const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const [name, field] of Object.entries(properties)) {
        if (typeof field.description !== "string") undescribed.push(`${path}.${name}`);
        walk(field, `${path}.${name}`);
      }
      const typeless = (s: Record<string, unknown>) =>
        !("type" in s || "anyOf" in s || "const" in s || "enum" in s);
      for (const key of ["items", "additionalProperties"]) {
        const inner = schema[key] as Record<string, unknown> | undefined;
        if (inner && typeof inner === "object") walk(inner, `${path}[${key}]`);
      }
      for (const alternative of (schema.anyOf ?? []) as Record<string, unknown>[]) {
        if (!typeless(alternative)) walk(alternative, path);
      }
      if (
        Object.keys(properties).length === 0 &&
        typeless(schema) &&
        path.includes(".") &&
        !path.endsWith("]")
      )
        untyped.push(path);
    };
    const schemas = openApiDocument().components as { schemas: Record<string, Record<string, unknown>> };
    for (const [name, schema] of Object.entries(schemas.schemas)) walk(schema, name);
    expect(undescribed).toEqual([]);
    expect(untyped).toEqual([]);
  });

  it("documents 405 on every operation", () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, { responses: object }>> };
    for (const [path, operations] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(operations))
        expect(Object.keys(op.responses), `${method} ${path}`).toContain("405");
  });

  it("accepts every example job under its RenderRequest schema, and refuses a broken one", async () => {
    const validate = componentValidator("RenderRequest");
    const files: string[] = [];
    for (const dir of await readdir(EXAMPLES, { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      for (const f of await readdir(join(EXAMPLES, dir.name))) {
        if (/^job.*\.json$/.test(f)) files.push(join(EXAMPLES, dir.name, f));
      }
    }
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const job = JSON.parse(await readFile(file, "utf8"));
      expect(validate(job), file).toEqual([]);
    }
    const broken = JSON.parse(await readFile(join(EXAMPLES, "hello/job.json"), "utf8"));
    expect(validate({ ...broken, output: { ...broken.output, format: "gif" } })).not.toEqual([]);
    expect(validate({ ...broken, unknownField: 1 })).not.toEqual([]);
  });

  it("describes what the handler answers: jobs, submissions and errors fit their schemas", async () => {
    const { api, jobs, clock } = handler();
    const job = { template: { html: "<p>{{ n }}</p>" }, data: { n: 1 }, output: { format: "png" } };
    const submitted = await api(event("POST", "/v1/renders", { key: KEY, body: JSON.stringify(job) }));
    expect(submitted.statusCode).toBe(202);
    expect(componentValidator("SubmittedJob")(JSON.parse(submitted.body))).toEqual([]);
    const { id } = JSON.parse(submitted.body);
    await jobs.startAttempt("a", id, { owner: "w1", expiresAtMs: clock.now().getTime() + 1000 }, clock.now());
    await jobs.markSucceeded(
      "a",
      id,
      "w1",
      { key: "outputs/a/abc.png", contentType: "image/png", bytes: 3, sha256: "a".repeat(64) },
      clock.now(),
      false,
    );
    const got = await api(event("GET", `/v1/renders/${id}`, { key: KEY }));
    expect(JSON.parse(got.body).output).toBeDefined();
    expect(componentValidator("Job")(JSON.parse(got.body))).toEqual([]);
    const refused = await api(event("POST", "/v1/renders", { key: KEY, body: "{}" }));
    expect(refused.statusCode).toBe(400);
    expect(componentValidator("Error")(JSON.parse(refused.body))).toEqual([]);
    expect(componentValidator("Job")({ id, status: "done" })).not.toEqual([]);
  });
});

describe("GET /openapi.json", () => {
  it("answers without an API key, naming the stage it is served under as the server", async () => {
    const { api } = handler();
    const local = await api(event("GET", "/openapi.json"));
    expect(local.statusCode).toBe(200);
    const doc = JSON.parse(local.body);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "/" }]);
    expect(Object.keys(doc.paths)).toContain("/v1/renders");
    const staged = await api(event("GET", "/openapi.json", { stagePath: "/live/openapi.json" }));
    expect(JSON.parse(staged.body).servers).toEqual([{ url: "/live" }]);
  });

  it("still needs a key everywhere else, and refuses other methods on the document", async () => {
    const { api } = handler();
    expect((await api(event("GET", "/v1/webhooks/secret"))).statusCode).toBe(401);
    const post = await api(event("POST", "/openapi.json"));
    expect(post.statusCode).toBe(405);
    expect(post.headers?.allow).toBe("GET");
  });
});

describe("docs/api.md", () => {
  it("is what `npm run docs:api` renders from the document", async () => {
    const committed = await readFile(API_REFERENCE_PATH, "utf8");
    // On a difference: run `npm run docs:api` and commit docs/api.md.
    expect(committed).toBe(renderApiReference());
  });

  it("covers every operation and every request field", () => {
    const reference = renderApiReference();
    for (const op of API_OPERATIONS) expect(reference).toContain(`### \`${op.method} ${op.path}\``);
    for (const field of ["output.pdf.margin.top", "waitFor.timeoutMs", "callbackUrl", "template.version"]) {
      expect(reference).toContain(`| \`${field}\` |`);
    }
  });
});
