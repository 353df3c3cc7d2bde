/**
 * Renders docs/api.md from the OpenAPI document the api function serves: `npm run docs:api`.
 * A unit test fails when the committed file differs from what this renders.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type JsonSchema, openApiDocument } from "../../functions/handlers/api/openapi.js";

export const API_REFERENCE_PATH = fileURLToPath(new URL("../../docs/api.md", import.meta.url));

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" ? (v as Obj) : {});
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderApiReference(doc: JsonSchema = openApiDocument()): string {
  const components = obj(doc.components);
  const schemas = obj(components.schemas);
  const resolve = (s: unknown): Obj => {
    const ref = obj(s).$ref;
    return typeof ref === "string" ? obj(schemas[ref.split("/").at(-1) ?? ""]) : obj(s);
  };
  const schemaName = (s: unknown) => {
    const ref = obj(s).$ref;
    return typeof ref === "string" ? (ref.split("/").at(-1) ?? "") : "";
  };
  const info = obj(doc.info);
  const out: string[] = [
    "# Kiln API reference",
    "",
    "<!-- Generated from the OpenAPI document by `npm run docs:api`; edit the operation table (functions/handlers/api/operations.ts) and the zod schemas, not this file. -->",
    "",
    String(info.description ?? ""),
    "",
    "The machine-readable document is served at `GET /openapi.json` (OpenAPI 3.1, no API key needed).",
    "",
    "**Authentication**: send the tenant's API key in the `x-api-key` header; every route needs it except",
    "those marked _public_.",
    "",
    '**Errors** have one shape, `{"error":{"code","message","fields"?}}`; a 4xx says what is wrong and',
    "a 5xx never echoes internals:",
    "",
    "| status | meaning |",
    "| --- | --- |",
  ];
  const responses = obj(components.responses);
  const statusOf: Record<string, string> = {};
  for (const op of operations(doc)) {
    for (const [status, r] of Object.entries(obj(op.operation.responses))) {
      const ref = obj(r).$ref;
      if (typeof ref === "string") statusOf[ref.split("/").at(-1) ?? ""] = status;
    }
  }
  for (const [name, r] of Object.entries(responses).sort(([a], [b]) =>
    (statusOf[a] ?? "").localeCompare(statusOf[b] ?? ""),
  )) {
    out.push(`| ${statusOf[name] ?? "—"} | ${cell(String(obj(r).description ?? ""))} |`);
  }
  out.push("");

  const byTag = new Map<string, ReturnType<typeof operations>>();
  for (const op of operations(doc)) {
    const tag = String((op.operation.tags as string[] | undefined)?.[0] ?? "Other");
    byTag.set(tag, [...(byTag.get(tag) ?? []), op]);
  }
  for (const [tag, ops] of byTag) {
    out.push(`## ${tag}`, "");
    for (const { method, path, operation } of ops) {
      const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
      out.push(`### \`${method.toUpperCase()} ${path}\``, "");
      out.push(`${operation.summary}${isPublic ? " _(public)_" : ""}.`, "");
      if (operation.description) out.push(String(operation.description), "");
      const parameters = (operation.parameters as Obj[] | undefined) ?? [];
      if (parameters.length > 0) {
        out.push("| parameter | in | type | required | description |", "| --- | --- | --- | --- | --- |");
        for (const p of parameters) {
          const s = obj(p.schema);
          out.push(
            `| \`${p.name}\` | ${p.in} | ${cell(typeOf(s))}${cell(constraints(s, []))} | ${p.required ? "yes" : "no"} | ${cell(String(p.description ?? ""))} |`,
          );
        }
        out.push("");
      }
      const body = obj(operation.requestBody);
      const content = obj(body.content);
      if (content["application/json"]) {
        const schema = obj(content["application/json"]).schema;
        out.push(`Request body (\`application/json\`, ${schemaName(schema)}): ${body.description ?? ""}`, "");
        out.push("| field | type | required | description |", "| --- | --- | --- | --- |");
        for (const row of fields(resolve(schema), "")) out.push(row);
        out.push("");
      } else if (Object.keys(content).length > 0) {
        out.push(
          `Request body: ${body.description ?? ""} Content types: ${Object.keys(content)
            .map((t) => `\`${t}\``)
            .join(", ")}.`,
          "",
        );
      }
      out.push("| status | body | description |", "| --- | --- | --- |");
      for (const [status, r] of Object.entries(obj(operation.responses))) {
        const response = obj(r);
        if (typeof response.$ref === "string") {
          const name = response.$ref.split("/").at(-1) ?? "";
          out.push(`| ${status} | Error | ${cell(String(obj(responses[name]).description ?? ""))} |`);
          continue;
        }
        const schema = obj(obj(obj(response.content)["application/json"]).schema);
        const headers = Object.keys(obj(response.headers));
        const named = schemaName(schema);
        out.push(
          `| ${status} | ${named ? `[${named}](#${named.toLowerCase()})` : "JSON"} | ${cell(String(response.description ?? ""))}${headers.length ? ` Headers: ${headers.map((h) => `\`${h}\``).join(", ")}.` : ""} |`,
        );
      }
      out.push("");
    }
  }

  out.push("## Response bodies", "");
  const requestBodies = new Set(
    operations(doc).map((o) =>
      schemaName(obj(obj(obj(o.operation.requestBody).content)["application/json"]).schema),
    ),
  );
  for (const [name, schema] of Object.entries(schemas)) {
    if (requestBodies.has(name)) continue;
    out.push(`### ${name}`, "", "| field | type | required | description |", "| --- | --- | --- | --- |");
    for (const row of fields(obj(schema), "")) out.push(row);
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

function operations(doc: JsonSchema): Array<{ method: string; path: string; operation: Obj }> {
  return Object.entries(obj(doc.paths)).flatMap(([path, item]) =>
    Object.entries(obj(item)).map(([method, operation]) => ({ method, path, operation: obj(operation) })),
  );
}

/** One row per field, nested objects as dotted paths. */
function fields(schema: Obj, prefix: string): string[] {
  const rows: string[] = [];
  const properties = obj(schema.properties);
  const requiredNames = new Set((schema.required as string[] | undefined) ?? []);
  for (const [name, raw] of Object.entries(properties)) {
    const s = obj(raw);
    const path = `${prefix}${name}`;
    // Required within its object: a field of an optional object is needed only when that object is sent.
    const isRequired = requiredNames.has(name);
    rows.push(
      `| \`${path}\` | ${cell(typeOf(s))}${cell(constraints(s, []))} | ${isRequired ? "yes" : "no"} | ${cell(String(s.description ?? ""))} |`,
    );
    for (const branch of [s, ...((s.anyOf as Obj[] | undefined) ?? [])]) {
      if (obj(branch).properties) rows.push(...fields(obj(branch), `${path}.`));
      const items = obj(obj(branch).items);
      if (items.properties) rows.push(...fields(items, `${path}[].`));
    }
  }
  return rows;
}

function typeOf(s: Obj): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" | ");
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (Array.isArray(s.anyOf)) return s.anyOf.map((b) => typeOf(obj(b))).join(" | ");
  if (s.type === "array") return `${typeOf(obj(s.items))}[]`;
  if (Array.isArray(s.type)) return s.type.join(" | ");
  if (typeof s.type === "string") return s.format ? `${s.type} (${s.format})` : s.type;
  return "any";
}

function constraints(s: Obj, parts: string[]): string {
  const add = (label: string, key: string) => {
    // zod bounds every integer by the safe-integer range: not worth a mention.
    if (s[key] !== undefined && Math.abs(Number(s[key])) !== Number.MAX_SAFE_INTEGER)
      parts.push(`${label} ${s[key]}`);
  };
  add("≥", "minimum");
  add("≤", "maximum");
  add("length ≥", "minLength");
  add("length ≤", "maxLength");
  if (typeof s.pattern === "string" && s.format === undefined) parts.push(`pattern \`${s.pattern}\``);
  if (s.default !== undefined) parts.push(`default \`${JSON.stringify(s.default)}\``);
  return parts.length ? `, ${parts.join(", ")}` : "";
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(API_REFERENCE_PATH, renderApiReference());
  process.stdout.write(`wrote ${API_REFERENCE_PATH}\n`);
}
