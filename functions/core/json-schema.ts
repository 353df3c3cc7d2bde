import { createHash } from "node:crypto";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { FieldIssue } from "./errors.js";

/**
 * JSON Schema validation of render data, for template versions that carry a schema. Drafts 2020-12
 * (the default), 2019-09 and 07 are understood, picked by `$schema`. Schemas are the tenant's own and
 * never fetch anything: a `$ref` must point inside the schema.
 */

// ajv-formats is CommonJS with a default export; under NodeNext its namespace arrives as the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

const OPTIONS = {
  allErrors: true,
  // Unknown keywords (`title`, `x-…`, editor annotations) are documentation, not errors.
  strict: false,
  validateFormats: true,
  // Never load anything over the network or from disk.
  loadSchema: undefined,
} as const;

type Draft = "2020-12" | "2019-09" | "draft-07";

const newEngine: Record<Draft, () => Ajv> = {
  "2020-12": () => addFormats(new Ajv2020(OPTIONS) as unknown as Ajv),
  "2019-09": () => addFormats(new Ajv2019(OPTIONS) as unknown as Ajv),
  "draft-07": () => addFormats(new Ajv(OPTIONS)),
};

// Built on first use: all three at import cost every cold start milliseconds, and a process needs one or
// none (the render worker never validates data).
const engines: Partial<Record<Draft, Ajv>> = {};

function engine(draft: Draft): Ajv {
  const built = engines[draft] ?? newEngine[draft]();
  engines[draft] = built;
  return built;
}

/** Which draft `$schema` names; undefined for a draft Kiln does not support. */
function draftOf(schema: Record<string, unknown>): Draft | undefined {
  const declared = schema.$schema;
  if (declared === undefined) return "2020-12";
  if (typeof declared !== "string") return undefined;
  if (declared.includes("2020-12")) return "2020-12";
  if (declared.includes("2019-09")) return "2019-09";
  if (/draft-0[67]/.test(declared)) return "draft-07";
  return undefined;
}

const compiled = new Map<string, ValidateFunction>();
const MAX_CACHED = 200;

export type DataSchema = Record<string, unknown>;

/**
 * Compiles `schema` (memoised by content) or returns why it is not a usable schema. Compiling once per
 * distinct schema matters: Ajv generates code for each.
 */
export function compileDataSchema(schema: DataSchema): { validate: ValidateFunction } | { problem: string } {
  const text = JSON.stringify(schema);
  const id = createHash("sha256").update(text).digest("hex");
  const hit = compiled.get(id);
  if (hit) return { validate: hit };
  const draft = draftOf(schema);
  if (!draft) {
    return {
      problem: `$schema ${JSON.stringify(schema.$schema)} is not supported: use draft 2020-12 (or omit $schema), 2019-09 or draft-07`,
    };
  }
  let validate: ValidateFunction;
  try {
    // A copy without $id: the same schema compiled twice under one $id would clash in Ajv's registry.
    const { $id: _id, ...rest } = schema;
    validate = engine(draft).compile(rest);
  } catch (err) {
    return { problem: `is not a valid JSON Schema: ${(err as Error).message}` };
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(id, validate);
  return { validate };
}

/** Validates `data`; one issue per bad field, named `data.<path>` (array indices as numbers). */
export function validateData(schema: DataSchema, data: unknown): FieldIssue[] {
  const result = compileDataSchema(schema);
  if ("problem" in result) return [{ field: "template", message: `its schema ${result.problem}` }];
  if (result.validate(data)) return [];
  const issues = new Map<string, string[]>();
  for (const error of result.validate.errors ?? []) {
    const { field, message } = describe(error);
    const messages = issues.get(field) ?? [];
    if (!messages.includes(message)) messages.push(message);
    issues.set(field, messages);
  }
  return [...issues].map(([field, messages]) => ({ field, message: messages.join("; ") }));
}

function describe(error: ErrorObject): FieldIssue {
  const path = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "required" && typeof params.missingProperty === "string") {
    return { field: ["data", ...path, params.missingProperty].join("."), message: "required" };
  }
  if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    return { field: ["data", ...path, params.additionalProperty].join("."), message: "is not allowed" };
  }
  return { field: ["data", ...path].join("."), message: error.message ?? `fails ${error.keyword}` };
}
