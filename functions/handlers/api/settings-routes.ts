import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { NotFoundError } from "../../core/errors.js";
import type { Clock, Logger, TenantSettingsStore } from "../../core/ports.js";
import { parseOrThrow } from "../../core/render-request.js";
import { DEFAULT_TENANT_SETTINGS, TenantSettingsSchema } from "../../core/tenant-settings.js";
import { json } from "./http-response.js";

export type SettingsRoute = (
  tenant: string,
  event: APIGatewayProxyEvent,
  match: RegExpExecArray,
) => Promise<APIGatewayProxyResult>;

export interface SettingsRouteDeps {
  readonly settings?: TenantSettingsStore;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The api handler's JSON body reader (content type, size and syntax checks). */
  readonly readJsonBody: (event: APIGatewayProxyEvent) => unknown;
}

/**
 * The tenant's settings:
 * - `GET /v1/settings` → the settings in force (the defaults when none were stored)
 * - `PUT /v1/settings` `{egress: {allowHosts}}` → 200 with the stored settings; replaces them whole
 */
export function settingsRoutes(
  deps: SettingsRouteDeps,
): Array<{ path: RegExp; methods: Record<string, SettingsRoute> }> {
  const store = (): TenantSettingsStore => {
    if (!deps.settings) throw new NotFoundError("Tenant settings are not configured on this Kiln.");
    return deps.settings;
  };

  const getSettings: SettingsRoute = async (tenant) => {
    return json(200, (await store().get(tenant)) ?? DEFAULT_TENANT_SETTINGS);
  };

  const putSettings: SettingsRoute = async (tenant, event) => {
    const settings = parseOrThrow(TenantSettingsSchema, deps.readJsonBody(event));
    await store().put(tenant, settings, deps.clock.now());
    deps.logger.info("tenant settings stored", { tenant, allowHosts: settings.egress.allowHosts.length });
    return json(200, settings);
  };

  return [{ path: /^\/v1\/settings\/?$/, methods: { GET: getSettings, PUT: putSettings } }];
}
