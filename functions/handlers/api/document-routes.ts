import { createHash } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  ASSET_CONTENT_TYPES,
  ASSETS,
  AssetKeySchema,
  type AssetStore,
  acceptedAssetType,
  assetObjectKey,
  contentTypeForAsset,
} from "../../core/assets.js";
import {
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "../../core/errors.js";
import type { Clock, Logger } from "../../core/ports.js";
import { parseOrThrow } from "../../core/render-request.js";
import {
  CreateTemplateSchema,
  createTemplateVersion,
  getTemplateVersion,
  type TemplateDeps,
  TemplateIdSchema,
  templateSourceKey,
  templateVersionView,
} from "../../core/templates.js";
import { json } from "./http-response.js";

export type DocumentRoute = (
  tenant: string,
  event: APIGatewayProxyEvent,
  match: RegExpExecArray,
) => Promise<APIGatewayProxyResult>;

export interface DocumentRouteDeps {
  readonly templates?: TemplateDeps;
  readonly assets?: AssetStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The api handler's JSON body reader (content type, size and syntax checks). */
  readonly readJsonBody: (event: APIGatewayProxyEvent) => unknown;
}

/**
 * Templates and assets:
 * - `POST /v1/templates` `{id, html, schema?}` → 201 with the new version (200 when identical to the latest)
 * - `GET /v1/templates` → each template with its latest version
 * - `GET /v1/templates/{id}` → the versions; `GET /v1/templates/{id}/versions/{n}` → one, with HTML and schema
 * - `PUT /v1/assets/{key}` (raw body, Content-Type of the file) → 201; stored under `assets/<tenant>/{key}`
 * Everything is per tenant: another tenant's template is a 404 like a missing one.
 */
export function documentRoutes(
  deps: DocumentRouteDeps,
): Array<{ path: RegExp; methods: Record<string, DocumentRoute> }> {
  const { logger } = deps;
  const templates = (): TemplateDeps => {
    if (!deps.templates) throw new NotFoundError("Stored templates are not configured on this Kiln.");
    return deps.templates;
  };

  const createTemplate: DocumentRoute = async (tenant, event) => {
    const input = parseOrThrow(CreateTemplateSchema, deps.readJsonBody(event));
    const { version, created } = await createTemplateVersion(templates(), tenant, input, deps.clock.now());
    logger.info(created ? "template version created" : "template upload unchanged", {
      tenant,
      templateId: version.id,
      version: version.version,
    });
    return json(
      created ? 201 : 200,
      { ...templateVersionView(version), created },
      { location: `/v1/templates/${encodeURIComponent(version.id)}/versions/${version.version}` },
    );
  };

  const listVersions: DocumentRoute = async (tenant, _event, match) => {
    const id = decode(match[1]);
    const versions = TemplateIdSchema.safeParse(id).success
      ? await templates().versions.list(tenant, id)
      : [];
    if (versions.length === 0) throw new NotFoundError(`No template ${id}.`);
    return json(200, {
      id,
      latestVersion: versions.at(-1)?.version,
      versions: versions.map((v) => templateVersionView(v)),
    });
  };

  /** Each of the tenant's templates with its latest version, ordered by id. */
  const listTemplates: DocumentRoute = async (tenant) => {
    const latest = await templates().versions.latestOfEach(tenant);
    return json(200, { templates: latest.map((v) => templateVersionView(v)) });
  };

  const getVersion: DocumentRoute = async (tenant, _event, match) => {
    const id = decode(match[1]);
    const raw = decode(match[2]);
    if (!TemplateIdSchema.safeParse(id).success || !/^[1-9]\d{0,9}$/.test(raw)) {
      throw new NotFoundError(`No template ${id} version ${raw}: versions are numbers (1, 2, …).`);
    }
    const deps = templates();
    const version = await getTemplateVersion(deps, tenant, id, Number(raw));
    const html = await deps.sources.get(templateSourceKey(tenant, version.sha256));
    if (html === undefined) throw new NotFoundError(`No template ${id} version ${raw}.`);
    return json(200, templateVersionView(version, html));
  };

  const putAsset: DocumentRoute = async (tenant, event, match) => {
    if (!deps.assets) throw new NotFoundError("Assets are not configured on this Kiln.");
    const key = decode(match[1]);
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
        `The asset is ${body.byteLength} bytes; at most ${ASSETS.maxBytes} bytes (4 MiB) are accepted.`,
      );
    }
    await deps.assets.put(assetObjectKey(tenant, key), body, contentType);
    logger.info("asset stored", { tenant, key, bytes: body.byteLength });
    return json(201, {
      key,
      bytes: body.byteLength,
      contentType,
      sha256: createHash("sha256").update(body).digest("hex"),
    });
  };

  return [
    { path: /^\/v1\/templates\/?$/, methods: { POST: createTemplate, GET: listTemplates } },
    { path: /^\/v1\/templates\/([^/]+)\/?$/, methods: { GET: listVersions } },
    { path: /^\/v1\/templates\/([^/]+)\/versions\/([^/]+)\/?$/, methods: { GET: getVersion } },
    { path: /^\/v1\/assets\/(.+)$/, methods: { PUT: putAsset } },
  ];
}

function decode(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? "");
  } catch {
    return segment ?? "";
  }
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const entry = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === name);
  return entry?.[1] ?? undefined;
}
