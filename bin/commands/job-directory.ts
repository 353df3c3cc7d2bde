import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { KilnClient } from "../../functions/client/kiln-client.js";
import { ASSET_CONTENT_TYPES, contentTypeForAsset } from "../../functions/core/assets.js";
import { uploadAsset } from "./assets.js";
import { readJsonFile } from "./cli-support.js";

/**
 * A job directory, as the examples lay it out next to their job.json:
 *
 *   templates/<id>.html            a template, uploaded as a new version of <id> (if it changed)
 *   templates/<id>.schema.json     its JSON Schema, optional
 *   assets/<key>                   an asset, uploaded under <key> (e.g. assets/brand/logo.png → brand/logo.png)
 *
 * `kiln render` uploads these before it submits the job, so an example renders with one command.
 */
export interface JobDirectory {
  readonly templates: ReadonlyArray<{ id: string; htmlPath: string; schemaPath?: string }>;
  readonly assets: ReadonlyArray<{ key: string; path: string; contentType: string }>;
}

/** The calls an upload needs. */
export type UploadTarget = Pick<KilnClient, "createTemplate" | "putAsset" | "uploadLargeAsset">;

export interface UploadedTemplate {
  readonly id: string;
  readonly version: number;
  readonly created: boolean;
}

export async function scanJobDirectory(dir: string): Promise<JobDirectory> {
  const templatesDir = join(dir, "templates");
  const templateFiles = await listFiles(templatesDir);
  const templates = templateFiles
    .filter((f) => f.endsWith(".html") && !f.includes(sep))
    .sort()
    .map((f) => {
      const id = f.slice(0, -".html".length);
      const schema = `${id}.schema.json`;
      return {
        id,
        htmlPath: join(templatesDir, f),
        ...(templateFiles.includes(schema) ? { schemaPath: join(templatesDir, schema) } : {}),
      };
    });
  const assetsDir = join(dir, "assets");
  const assets = (await listFiles(assetsDir)).sort().map((f) => {
    const key = f.split(sep).join("/");
    const contentType = contentTypeForAsset(f);
    if (!contentType) {
      throw new Error(
        `${join(assetsDir, f)}: Kiln serves only ${Object.keys(ASSET_CONTENT_TYPES).join(", ")} files as assets.`,
      );
    }
    return { key, path: join(assetsDir, f), contentType };
  });
  return { templates, assets };
}

/** Uploads every template and asset of `dir`; `log` hears one line per file. */
export async function uploadJobDirectory(
  target: UploadTarget,
  dir: string,
  log: (line: string) => void = () => {},
): Promise<{ templates: UploadedTemplate[]; assets: string[] }> {
  const found = await scanJobDirectory(dir);
  const assets: string[] = [];
  for (const asset of found.assets) {
    await uploadAsset(target, asset.key, await readFile(asset.path), asset.contentType);
    assets.push(asset.key);
    log(`asset ${asset.key} uploaded`);
  }
  const templates: UploadedTemplate[] = [];
  for (const t of found.templates) {
    const html = await readFile(t.htmlPath, "utf8");
    const schema = t.schemaPath ? ((await readJsonFile(t.schemaPath)) as Record<string, unknown>) : undefined;
    const result = await target.createTemplate({ id: t.id, html, ...(schema ? { schema } : {}) });
    templates.push({ id: result.id, version: result.version, created: result.created });
    log(`template ${result.id} version ${result.version} ${result.created ? "created" : "unchanged"}`);
  }
  return { templates, assets };
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}
