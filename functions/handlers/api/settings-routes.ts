import { NotFoundError } from "../../core/errors.js";
import type { TenantSettingsStore } from "../../core/ports.js";
import { DEFAULT_TENANT_SETTINGS } from "../../core/tenant-settings.js";
import type { RouteDeps } from "./handler.js";
import { json } from "./http-response.js";
import type { OperationHandlers } from "./request.js";

function settingsOf(deps: RouteDeps): TenantSettingsStore {
  if (!deps.settings) throw new NotFoundError("Tenant settings are not configured on this Kiln.");
  return deps.settings;
}

/** The tenant's settings: read (the defaults when none were stored) and replaced whole. */
export const settingsHandlers: Pick<OperationHandlers, "getSettings" | "putSettings"> = {
  async getSettings({ tenant }, deps) {
    return json(200, (await settingsOf(deps).get(tenant)) ?? DEFAULT_TENANT_SETTINGS);
  },

  async putSettings({ tenant, body: settings }, deps) {
    await settingsOf(deps).put(tenant, settings, deps.clock.now());
    deps.logger.info("tenant settings stored", { tenant, allowHosts: settings.egress.allowHosts.length });
    return json(200, settings);
  },
};
