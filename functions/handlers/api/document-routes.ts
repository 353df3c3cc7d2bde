import { createHash } from "node:crypto";
import {
  ASSET_CONTENT_TYPES,
  ASSETS,
  AssetKeySchema,
  acceptedAssetType,
  assetObjectKey,
  contentTypeForAsset,
  createAssetUpload,
  mebibytes,
} from "../../core/assets.js";
import {
  NotFoundError,
  noSuch,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "../../core/errors.js";
import {
  createTemplateVersion,
  getTemplateVersion,
  type TemplateDeps,
  TemplateIdSchema,
  templateSourceKey,
  templateVersionView,
} from "../../core/templates.js";
import type { RouteDeps } from "./handler.js";
import { json } from "./http-response.js";
import { decodePathParam, header, type OperationHandlers } from "./request.js";

function templatesOf(deps: RouteDeps): TemplateDeps {
  if (!deps.templates) throw new NotFoundError("Stored templates are not configured on this Kiln.");
  return deps.templates;
}

/**
 * Templates and assets. Everything is per tenant: another tenant's template is a 404 like a missing
 * one; assets are stored under `assets/<tenant>/{key}`.
 */
export const documentHandlers: Pick<
  OperationHandlers,
  "createTemplate" | "listTemplates" | "getTemplate" | "getTemplateVersion" | "putAsset" | "createAssetUpload"
> = {
  async createTemplate({ tenant, body: input }, deps) {
    const { version, created } = await createTemplateVersion(
      templatesOf(deps),
      tenant,
      input,
      deps.clock.now(),
    );
    deps.logger.info(created ? "template version created" : "template upload unchanged", {
      tenant,
      templateId: version.id,
      version: version.version,
    });
    return json(
      created ? 201 : 200,
      { ...templateVersionView(version), created },
      { location: `/v1/templates/${encodeURIComponent(version.id)}/versions/${version.version}` },
    );
  },

  /** Each of the tenant's templates with its latest version, ordered by id. */
  async listTemplates({ tenant }, deps) {
    const latest = await templatesOf(deps).versions.latestOfEach(tenant);
    return json(200, { templates: latest.map((v) => templateVersionView(v)) });
  },

  async getTemplate({ tenant, params }, deps) {
    const id = decodePathParam(params.id);
    const wellFormed = TemplateIdSchema.safeParse(id).success;
    const versions = wellFormed ? await templatesOf(deps).versions.list(tenant, id) : [];
    if (versions.length === 0) throw noSuch("template", id, wellFormed);
    return json(200, {
      id,
      latestVersion: versions.at(-1)?.version,
      versions: versions.map((v) => templateVersionView(v)),
    });
  },

  async getTemplateVersion({ tenant, params }, deps) {
    const id = decodePathParam(params.id);
    const raw = decodePathParam(params.version);
    if (!TemplateIdSchema.safeParse(id).success) throw noSuch("template", id, false);
    if (!/^[1-9]\d{0,9}$/.test(raw)) {
      throw new NotFoundError(`No such version of template ${id}: versions are numbers (1, 2, …).`);
    }
    const templates = templatesOf(deps);
    const version = await getTemplateVersion(templates, tenant, id, Number(raw));
    const html = await templates.sources.get(templateSourceKey(tenant, version.sha256));
    if (html === undefined) throw new NotFoundError(`No template ${id} version ${raw}.`);
    return json(200, templateVersionView(version, html));
  },

  /** The raw body is the file, typed by its Content-Type (or, when generic, by the key's extension). */
  async putAsset({ tenant, event, params }, deps) {
    if (!deps.assets) throw new NotFoundError("Assets are not configured on this Kiln.");
    const key = decodePathParam(params.key);
    const parsed = AssetKeySchema.safeParse(key);
    if (!parsed.success) {
      throw new ValidationError([
        { field: "key", message: parsed.error.issues[0]?.message ?? "is not valid" },
      ]);
    }
    const declared = header(event, "content-type");
    const generic = !declared || /^application\/octet-stream\b/i.test(declared);
    const contentType = generic ? contentTypeForAsset(key) : acceptedAssetType(declared);
    if (!contentType) {
      throw new UnsupportedMediaTypeError(
        `Assets must be one of ${[...new Set(Object.values(ASSET_CONTENT_TYPES))].join(", ")}; send the file's type in Content-Type${generic ? " or use a key with its extension" : `, not ${declared}`}.`,
      );
    }
    const body = event.isBase64Encoded
      ? Buffer.from(event.body ?? "", "base64")
      : Buffer.from(event.body ?? "", "utf8");
    if (body.byteLength === 0) throw new ValidationError([{ field: "", message: "the asset is empty" }]);
    if (body.byteLength > ASSETS.maxBytes) {
      throw new PayloadTooLargeError(
        `The asset is ${body.byteLength} bytes; PUT /v1/assets/{key} takes at most ${ASSETS.maxBytes} bytes (${mebibytes(ASSETS.maxBytes)}). ` +
          `Upload files up to ${mebibytes(ASSETS.maxUploadBytes)} through a URL from POST /v1/asset-uploads.`,
      );
    }
    await deps.assets.put(assetObjectKey(tenant, key), body, contentType);
    deps.logger.info("asset stored", { tenant, key, bytes: body.byteLength });
    return json(201, {
      key,
      bytes: body.byteLength,
      contentType,
      sha256: createHash("sha256").update(body).digest("hex"),
    });
  },

  /** A presigned PUT into the tenant's assets, for files too large to pass through the API. */
  async createAssetUpload({ tenant, body }, deps) {
    if (!deps.assetUploads) throw new NotFoundError("Asset uploads are not configured on this Kiln.");
    const upload = await createAssetUpload(deps.assetUploads, tenant, body, deps.clock.now());
    deps.logger.info("asset upload url issued", { tenant, key: upload.key, bytes: body.bytes });
    return json(201, upload);
  },
};
