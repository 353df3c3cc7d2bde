import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { API_TYPES_PATH, renderApiTypes } from "../../bin/client/generate-api-types.js";

const ROOT = join(import.meta.dirname, "../..");
const readJson = async (path: string) => JSON.parse(await readFile(join(ROOT, path), "utf8"));

describe("client package", () => {
  it("commits the API types the OpenAPI document gives (regenerate with npm run client:types)", async () => {
    expect(await readFile(API_TYPES_PATH, "utf8")).toBe(renderApiTypes());
  });

  it("has Kiln's version and exports only built files, for import and require, each with its types", async () => {
    const [root, client] = [await readJson("package.json"), await readJson("functions/client/package.json")];
    expect(client.name).toBe("@kiln/client");
    expect(client.version).toBe(root.version);
    expect(client.files).toEqual(["dist"]);
    expect(client.dependencies).toBeUndefined();
    expect(client.exports["."]).toEqual({
      import: { types: "./dist/index.d.mts", default: "./dist/index.mjs" },
      require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
    });
    expect(root.exports?.["./client"]).toBeUndefined();
  });
});

describe("API types from JSON Schema", () => {
  const doc = (schemas: Record<string, unknown>) => ({ components: { schemas } });

  it("writes objects as interfaces with optional fields, documented, and keys quoted when needed", () => {
    const text = renderApiTypes(
      doc({
        Thing: {
          type: "object",
          description: "A thing.",
          properties: {
            id: { type: "string", description: "Its id; never `*/` ends a comment early." },
            "content-type": { type: "string" },
            count: { type: "integer" },
          },
          required: ["id"],
          additionalProperties: false,
        },
      }),
    );
    expect(text).toContain(
      [
        "/** A thing. */",
        "export interface Thing {",
        "  /** Its id; never `*\\/` ends a comment early. */",
        "  id: string;",
        '  "content-type"?: string;',
        "  count?: number;",
        "}",
      ].join("\n"),
    );
  });

  it("writes enums, consts, unions, readonly arrays, records, refs and unknown for what has no type", () => {
    const text = renderApiTypes(
      doc({
        Status: { type: "string", enum: ["queued", "failed"] },
        Scheme: { type: "string", const: "v1" },
        Size: { anyOf: [{ type: "string" }, { type: ["number", "null"] }] },
        Tags: { type: "array", items: { anyOf: [{ type: "string" }, { type: "number" }] } },
        Data: { type: "object", propertyNames: { type: "string" }, additionalProperties: {} },
        Ref: { $ref: "#/components/schemas/Status" },
        Anything: {},
      }),
    );
    expect(text).toContain('export type Status = "queued" | "failed";');
    expect(text).toContain('export type Scheme = "v1";');
    expect(text).toContain("export type Size = string | number | null;");
    expect(text).toContain("export type Tags = readonly (string | number)[];");
    expect(text).toContain("export type Data = Record<string, unknown>;");
    expect(text).toContain("export type Ref = Status;");
    expect(text).toContain("export type Anything = unknown;");
  });
});
