import { createHash } from "node:crypto";
import { z } from "zod";
import { NotFoundError, PermanentRenderError, ValidationError } from "./errors.js";
import type { DataSchema } from "./json-schema.js";
import { type PdfMetadata, PdfMetadataSchema } from "./pdf-metadata.js";
import { jsonSchemaRules, present } from "./schema-rules.js";
import { requireLiquidSyntax } from "./template-engine.js";

/**
 * Versioned templates. A version is immutable: its HTML is stored once under a content-addressed key
 * and its record (number, hash, schema) is written with a conditional put, so two concurrent uploads
 * of one template id get different numbers without a transaction. Jobs name an exact version.
 */
export const TEMPLATES = {
  sourceKeyPrefix: "templates/",
  htmlBytes: 1024 * 1024,
  schemaBytes: 64 * 1024,
  /** Conditional-put attempts when concurrent uploads race for the next number. */
  maxCreateAttempts: 8,
} as const;

export const TemplateIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
    "must be 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit",
  );

const TOO_MANY_HTML_BYTES = `must be at most ${TEMPLATES.htmlBytes} bytes`;

/** Liquid HTML, parsed when it is submitted: a syntax error is a 400 naming the line, not a failed job. */
const HtmlSchema = z
  .string()
  .min(1)
  // Bytes are at least characters: the JSON Schema bound, for clients that validate before sending.
  .max(TEMPLATES.htmlBytes, { message: TOO_MANY_HTML_BYTES, abort: true })
  .refine((h) => Buffer.byteLength(h, "utf8") <= TEMPLATES.htmlBytes, {
    message: TOO_MANY_HTML_BYTES,
    abort: true,
  })
  .superRefine(requireLiquidSyntax);

/** The body of POST /v1/templates. */
export const CreateTemplateSchema = z.strictObject({
  id: TemplateIdSchema.describe("The template's id; a new id starts at version 1."),
  html: HtmlSchema.describe("Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped."),
  /** A JSON Schema the data of every render of this version must satisfy. */
  schema: z
    .record(z.string(), z.unknown())
    .refine((s) => Buffer.byteLength(JSON.stringify(s), "utf8") <= TEMPLATES.schemaBytes, {
      message: `must be at most ${TEMPLATES.schemaBytes} bytes as JSON`,
    })
    .optional()
    .describe("A JSON Schema (at most 64 KiB) the data of every render of this version must satisfy."),
  /**
   * Let renders of this version run the template's own scripts (a job can also ask with
   * `"javascript": true`). Off by default; the egress rules hold either way.
   */
  javascript: z
    .boolean()
    .optional()
    .describe("Renders of this version run the template's own JavaScript (default false)."),
  pdfMetadata: PdfMetadataSchema.optional().describe(
    "PDF metadata of every PDF rendered from this version; a job's `output.pdf.metadata` overrides it field by field.",
  ),
});
export type CreateTemplate = z.output<typeof CreateTemplateSchema>;

const notAVersion = (input: unknown) =>
  `must be a version number (1, 2, …), not ${String(JSON.stringify(input)).slice(0, 40)}: Kiln never renders "latest", so a new upload cannot change what a job produces`;

/**
 * `template` in a render request: inline `{html}` or a stored `{id, version}`. The version is required
 * and numeric: a render never follows "latest", so a new upload cannot change a job's output.
 */
export const TemplateRefSchema = z
  .strictObject({
    html: HtmlSchema.optional().describe(
      "Inline Liquid template, at most 1 MiB; `{{ }}` output is HTML-escaped.",
    ),
    id: TemplateIdSchema.optional().describe("A stored template's id, with version."),
    version: z
      .int({ error: (issue) => notAVersion(issue.input) })
      .min(1, { error: (issue) => notAVersion(issue.input) })
      .optional()
      .describe("The stored template's exact version number (1, 2, …); never latest."),
  })
  .superRefine((t, ctx) => {
    if ((t.html === undefined) === (t.id === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: t.html === undefined ? ["html"] : [],
        message:
          t.html === undefined
            ? "required (string), or name a stored template with id and version"
            : "give html or id, not both",
      });
    }
    if (t.html !== undefined && t.version !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["version"],
        message: "version goes with id, not with inline html",
      });
    }
    if (t.id !== undefined && t.version === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["version"],
        message: "required: name the exact version to render (1, 2, …)",
      });
    }
  })
  // The same rules for JSON Schema readers: inline html alone, or id with version.
  .register(jsonSchemaRules, {
    oneOf: [
      { required: ["html"], not: { anyOf: [present("id"), present("version")] } },
      { required: ["id", "version"], not: present("html") },
    ],
  })
  .transform((t): InlineTemplate | StoredTemplate =>
    t.html !== undefined ? { html: t.html } : { id: t.id as string, version: t.version as number },
  );
export interface InlineTemplate {
  readonly html: string;
}
export interface StoredTemplate {
  readonly id: string;
  readonly version: number;
}
export type TemplateRef = z.output<typeof TemplateRefSchema>;

export interface TemplateVersion {
  readonly id: string;
  readonly version: number;
  readonly createdAt: string;
  /** sha256 of the HTML: the key of its source object. */
  readonly sha256: string;
  readonly bytes: number;
  readonly schema?: DataSchema;
  /** Renders of this version run the template's own scripts. */
  readonly javascript?: boolean;
  /** Metadata of the PDFs rendered from this version, under the job's own. */
  readonly pdfMetadata?: PdfMetadata;
}

/** Version records, one conditional put each. */
export interface TemplateVersionStore {
  /** The highest version, consistently read; undefined when the template has none. */
  latest(tenant: string, id: string): Promise<TemplateVersion | undefined>;
  /** `exists` when another upload took this number first. */
  create(tenant: string, version: TemplateVersion): Promise<"created" | "exists">;
  get(tenant: string, id: string, version: number): Promise<TemplateVersion | undefined>;
  /** Ascending by version. */
  list(tenant: string, id: string): Promise<TemplateVersion[]>;
  /** The latest version of each of the tenant's templates, ordered by id. */
  latestOfEach(tenant: string): Promise<TemplateVersion[]>;
}

/** Template HTML by content-addressed key. */
export interface TemplateSourceStore {
  put(key: string, html: string): Promise<void>;
  /** Undefined when there is no such object. */
  get(key: string): Promise<string | undefined>;
}

export interface TemplateDeps {
  readonly versions: TemplateVersionStore;
  readonly sources: TemplateSourceStore;
}

export function templateSourceKey(tenant: string, sha256: string): string {
  return `${TEMPLATES.sourceKeyPrefix}${tenant}/${sha256}.html`;
}

/**
 * JSON Schema validation (Ajv) is loaded when a schema is first checked: the render worker imports this
 * module for the TemplateLoader and never validates data, and Ajv's evaluation is milliseconds of its
 * cold start.
 */
const dataSchemas = () => import("./json-schema.js");

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const sameSchema = (a: DataSchema | undefined, b: DataSchema | undefined) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Stores a new version of a template, numbered one past the latest. The HTML was parsed with the
 * body (CreateTemplateSchema); the data schema must compile (else 400 naming `schema`). Uploading
 * exactly the latest version's HTML and schema again creates nothing and returns that version
 * (`created: false`), so re-running an upload is harmless.
 */
export async function createTemplateVersion(
  deps: TemplateDeps,
  tenant: string,
  input: CreateTemplate,
  now: Date,
): Promise<{ version: TemplateVersion; created: boolean }> {
  if (input.schema) {
    const { compileDataSchema } = await dataSchemas();
    const compiled = compileDataSchema(input.schema);
    if ("problem" in compiled) throw new ValidationError([{ field: "schema", message: compiled.problem }]);
  }
  const hash = sha256(input.html);
  // Content-addressed, so a retried or concurrent upload rewrites the same bytes.
  await deps.sources.put(templateSourceKey(tenant, hash), input.html);

  for (let attempt = 1; attempt <= TEMPLATES.maxCreateAttempts; attempt++) {
    const latest = await deps.versions.latest(tenant, input.id);
    if (
      latest &&
      latest.sha256 === hash &&
      sameSchema(latest.schema, input.schema) &&
      (latest.javascript ?? false) === (input.javascript ?? false) &&
      JSON.stringify(latest.pdfMetadata ?? null) === JSON.stringify(input.pdfMetadata ?? null)
    ) {
      return { version: latest, created: false };
    }
    const candidate: TemplateVersion = {
      id: input.id,
      version: (latest?.version ?? 0) + 1,
      createdAt: now.toISOString(),
      sha256: hash,
      bytes: Buffer.byteLength(input.html, "utf8"),
      ...(input.schema ? { schema: input.schema } : {}),
      ...(input.javascript ? { javascript: true } : {}),
      ...(input.pdfMetadata ? { pdfMetadata: input.pdfMetadata } : {}),
    };
    if ((await deps.versions.create(tenant, candidate)) === "created")
      return { version: candidate, created: true };
  }
  throw new Error(`Template ${input.id} kept changing while a version was added; retry the upload.`);
}

/** The version record, or a 404 naming what is missing. */
export async function getTemplateVersion(
  deps: Pick<TemplateDeps, "versions">,
  tenant: string,
  id: string,
  version: number,
): Promise<TemplateVersion> {
  const found = await deps.versions.get(tenant, id, version);
  if (!found) throw new NotFoundError(`Template ${id} has no version ${version}.`);
  return found;
}

/** Code of the job failure when the template version a job names cannot be loaded. */
export const TEMPLATE_MISSING = "template_missing";

/**
 * The HTML of a template version, for the worker. Versions are immutable, so loaded ones are kept (a
 * bounded number) for later renders in the same process.
 */
export class TemplateLoader {
  readonly #cache = new Map<string, LoadedTemplate>();

  constructor(
    private readonly deps: TemplateDeps,
    private readonly maxEntries = 100,
  ) {}

  async html(tenant: string, id: string, version: number): Promise<string> {
    return (await this.load(tenant, id, version)).html;
  }

  /** The HTML and whether the version runs its own scripts. */
  async load(tenant: string, id: string, version: number): Promise<LoadedTemplate> {
    const cacheKey = `${tenant}\u0000${id}\u0000${version}`;
    const hit = this.#cache.get(cacheKey);
    if (hit !== undefined) return hit;
    const record = await this.deps.versions.get(tenant, id, version);
    const html = record ? await this.deps.sources.get(templateSourceKey(tenant, record.sha256)) : undefined;
    if (!record || html === undefined) {
      throw new PermanentRenderError(TEMPLATE_MISSING, `Template ${id} version ${version} does not exist.`);
    }
    if (this.#cache.size >= this.maxEntries) this.#cache.delete(this.#cache.keys().next().value as string);
    const loaded = {
      html,
      javascript: record.javascript === true,
      sha256: record.sha256,
      ...(record.pdfMetadata ? { pdfMetadata: record.pdfMetadata } : {}),
    };
    this.#cache.set(cacheKey, loaded);
    return loaded;
  }
}

export interface LoadedTemplate {
  readonly html: string;
  readonly javascript: boolean;
  readonly pdfMetadata?: PdfMetadata;
  /** The version's content hash. */
  readonly sha256: string;
}

/** How the API shows a version: never the tenant prefix or the storage key. */
export function templateVersionView(v: TemplateVersion, html?: string) {
  return {
    id: v.id,
    version: v.version,
    createdAt: v.createdAt,
    sha256: v.sha256,
    bytes: v.bytes,
    hasSchema: v.schema !== undefined,
    javascript: v.javascript === true,
    ...(v.pdfMetadata ? { pdfMetadata: v.pdfMetadata } : {}),
    ...(html !== undefined ? { html } : {}),
    ...(html !== undefined && v.schema ? { schema: v.schema } : {}),
  };
}

/**
 * At submission: the template a render names must exist for this tenant, and when its version has a
 * schema the data must satisfy it — both answer 400 naming the fields, before anything is queued.
 * Returns the stored version (undefined for an inline template).
 */
export async function checkRenderTemplate(
  deps: Pick<TemplateDeps, "versions"> | undefined,
  tenant: string,
  template: TemplateRef,
  data: Record<string, unknown>,
): Promise<TemplateVersion | undefined> {
  const version = await storedTemplateVersion(deps, tenant, template);
  if (version?.schema) {
    const { validateData } = await dataSchemas();
    const issues = validateData(version.schema, data);
    if (issues.length > 0) throw new ValidationError(issues);
  }
  return version;
}

/**
 * The schema of the stored template a request names (undefined for an inline template or a version
 * without one); a template or version that does not exist answers 400 naming the field.
 */
export async function storedTemplateSchema(
  deps: Pick<TemplateDeps, "versions"> | undefined,
  tenant: string,
  template: TemplateRef,
): Promise<DataSchema | undefined> {
  return (await storedTemplateVersion(deps, tenant, template))?.schema;
}

/** The stored version a request names (undefined for an inline template), or a 400 naming the field. */
async function storedTemplateVersion(
  deps: Pick<TemplateDeps, "versions"> | undefined,
  tenant: string,
  template: TemplateRef,
): Promise<TemplateVersion | undefined> {
  if (!("id" in template)) return undefined;
  if (!deps) {
    throw new ValidationError([
      { field: "template.id", message: "stored templates are not configured here" },
    ]);
  }
  const found = await deps.versions.get(tenant, template.id, template.version);
  if (found) return found;
  const latest = await deps.versions.latest(tenant, template.id);
  throw new ValidationError([
    latest
      ? {
          field: "template.version",
          message: `template ${template.id} has no version ${template.version} (the latest is ${latest.version})`,
        }
      : { field: "template.id", message: `there is no template ${template.id}` },
  ]);
}
