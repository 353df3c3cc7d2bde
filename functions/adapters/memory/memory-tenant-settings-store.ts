import type { TenantSettingsStore } from "../../core/ports.js";
import type { TenantSettings } from "../../core/tenant-settings.js";

export class MemoryTenantSettingsStore implements TenantSettingsStore {
  readonly settings = new Map<string, TenantSettings>();

  async get(tenant: string): Promise<TenantSettings | undefined> {
    const found = this.settings.get(tenant);
    return found ? structuredClone(found) : undefined;
  }

  async put(tenant: string, settings: TenantSettings, _now: Date): Promise<void> {
    this.settings.set(tenant, structuredClone(settings));
  }
}
