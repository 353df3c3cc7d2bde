import { createHash } from "node:crypto";
import type { AssetInfo, AssetStore } from "../../core/assets.js";
import type { TemplateSourceStore, TemplateVersion, TemplateVersionStore } from "../../core/templates.js";

/** In-memory template versions with the same conditional-create semantics as the DynamoDB store. */
export class MemoryTemplateStore implements TemplateVersionStore {
  readonly versions = new Map<string, TemplateVersion[]>();
  /** Test hook: runs before each create, e.g. to let a competing upload win a number. */
  beforeCreate?: (tenant: string, version: TemplateVersion) => Promise<void> | void;

  async latest(tenant: string, id: string) {
    return this.versions.get(`${tenant}/${id}`)?.at(-1);
  }

  async create(tenant: string, version: TemplateVersion): Promise<"created" | "exists"> {
    await this.beforeCreate?.(tenant, version);
    const list = this.versions.get(`${tenant}/${version.id}`) ?? [];
    if (list.some((v) => v.version === version.version)) return "exists";
    list.push(version);
    list.sort((a, b) => a.version - b.version);
    this.versions.set(`${tenant}/${version.id}`, list);
    return "created";
  }

  async get(tenant: string, id: string, version: number) {
    return this.versions.get(`${tenant}/${id}`)?.find((v) => v.version === version);
  }

  async list(tenant: string, id: string) {
    return [...(this.versions.get(`${tenant}/${id}`) ?? [])];
  }

  async latestOfEach(tenant: string) {
    return [...this.versions.entries()]
      .filter(([key]) => key.startsWith(`${tenant}/`))
      .map(([, list]) => list.at(-1))
      .filter((v): v is TemplateVersion => v !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

export class MemoryTemplateSourceStore implements TemplateSourceStore {
  readonly objects = new Map<string, string>();
  gets = 0;

  async put(key: string, html: string) {
    this.objects.set(key, html);
  }

  async get(key: string) {
    this.gets += 1;
    return this.objects.get(key);
  }
}

export class MemoryAssetStore implements AssetStore {
  readonly objects = new Map<string, { body: Uint8Array; contentType: string; lastModified: string }>();

  /** `now`: the Last-Modified a put records. */
  constructor(private readonly now: () => Date = () => new Date()) {}

  async head(objectKey: string): Promise<AssetInfo | undefined> {
    const o = this.objects.get(objectKey);
    return o
      ? {
          bytes: o.body.byteLength,
          contentType: o.contentType,
          etag: `"${createHash("md5").update(o.body).digest("hex")}"`,
          lastModified: o.lastModified,
        }
      : undefined;
  }

  async put(objectKey: string, body: Uint8Array, contentType: string) {
    this.objects.set(objectKey, { body, contentType, lastModified: this.now().toISOString() });
  }
}
