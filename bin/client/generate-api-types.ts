/**
 * Writes functions/client/api-types.ts, the request and response types of the client package, from
 * the OpenAPI document the api function serves: `npm run client:types`. The package may not import
 * Kiln's zod schemas, so it gets their shape as plain TypeScript. A unit test fails when the
 * committed file differs from what this writes.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type JsonSchema, openApiDocument } from "../../functions/handlers/api/openapi.js";

export const API_TYPES_PATH = fileURLToPath(new URL("../../functions/client/api-types.ts", import.meta.url));

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" ? (v as Obj) : {});

export function renderApiTypes(doc: JsonSchema = openApiDocument()): string {
  const out = [
    "// Generated from the OpenAPI document (GET /openapi.json) by `npm run client:types`; edit the",
    "// operation table (functions/handlers/api/operations.ts) and the zod schemas, not this file.",
    "",
  ];
  for (const [name, schema] of Object.entries(obj(obj(doc.components).schemas))) {
    const s = obj(schema);
    out.push(...docComment(s.description, ""));
    const isInterface =
      s.type === "object" && s.properties !== undefined && shapeBranches(s.anyOf).length === 0;
    out.push(
      isInterface ? `export interface ${name} ${typeOf(s, "")}` : `export type ${name} = ${typeOf(s, "")};`,
      "",
    );
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/** The TypeScript type of a JSON Schema (2020-12, as zod writes it); `indent` is the current depth. */
function typeOf(s: Obj, indent: string): string {
  if (typeof s.$ref === "string") return s.$ref.split("/").at(-1) ?? "unknown";
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const anyOf = [...shapeBranches(s.anyOf), ...shapeBranches(s.oneOf)];
  if (anyOf.length > 0) return union(anyOf.map((b) => typeOf(b, indent)));
  const allOf = shapeBranches(s.allOf);
  if (allOf.length > 0) return allOf.map((b) => parenthesized(typeOf(b, indent))).join(" & ");
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === "string" ? [s.type] : [];
  if (types.length === 0) return "unknown";
  return union(
    types.map((t) => {
      if (t === "integer") return "number";
      if (t === "array")
        return `readonly ${parenthesized(s.items ? typeOf(obj(s.items), indent) : "unknown")}[]`;
      if (t === "object") return objectType(s, indent);
      return t;
    }),
  );
}

/**
 * The branches of a combinator that describe a shape. Branches without a type of their own
 * (`required`, `not`, `properties` of the shape beside them) only add rules no TypeScript type holds.
 */
function shapeBranches(branches: unknown): Obj[] {
  return Array.isArray(branches) ? branches.map(obj).filter(describesShape) : [];
}

function describesShape(s: Obj): boolean {
  if (["$ref", "type", "const", "enum"].some((key) => s[key] !== undefined)) return true;
  return [s.anyOf, s.oneOf, s.allOf].some((branches) => shapeBranches(branches).length > 0);
}

function objectType(s: Obj, indent: string): string {
  const properties = Object.entries(obj(s.properties));
  const extra = s.additionalProperties;
  const extraType = extra && typeof extra === "object" ? typeOf(obj(extra), indent) : undefined;
  if (properties.length === 0) return `Record<string, ${extraType ?? "unknown"}>`;
  const inner = `${indent}  `;
  const required = new Set((s.required as string[] | undefined) ?? []);
  const lines = ["{"];
  for (const [key, raw] of properties) {
    const p = obj(raw);
    lines.push(...docComment(p.description, inner));
    const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
    lines.push(`${inner}${name}${required.has(key) ? "" : "?"}: ${typeOf(p, inner)};`);
  }
  // An index signature must admit every named property's type: only `unknown` surely does.
  if (extraType !== undefined) lines.push(`${inner}[key: string]: unknown;`);
  lines.push(`${indent}}`);
  return lines.join("\n");
}

function union(types: string[]): string {
  return [...new Set(types)].join(" | ");
}

function parenthesized(type: string): string {
  return /^[\w.]+$/.test(type) || type.startsWith("{") || type.startsWith("Record<") ? type : `(${type})`;
}

function docComment(description: unknown, indent: string): string[] {
  if (typeof description !== "string" || description === "") return [];
  return [`${indent}/** ${description.replaceAll("*/", "*\\/")} */`];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(API_TYPES_PATH, renderApiTypes());
  process.stdout.write(`wrote ${API_TYPES_PATH}\n`);
}
