import { createHash, randomBytes } from "node:crypto";

/** API keys are stored and looked up only by this digest. */
export function hashApiKey(apiKey: string): string {
  return createHash("sha256").update(apiKey, "utf8").digest("hex");
}

export function generateApiKey(): string {
  return `kiln_${randomBytes(24).toString("base64url")}`;
}

/**
 * What a tenant may be called. Tenant names become parts of storage keys (`TENANT#<tenant>#…`,
 * `assets/<tenant>/…`), so a `/` or `#` in one could reach into another tenant's keys.
 */
export const TENANT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Parses `tenantA=keyA,tenantB=keyB`; throws a sentence naming the bad entry. */
export function parseApiKeyList(list: string): Array<{ tenant: string; apiKey: string }> {
  return list
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^([A-Za-z0-9_-]{1,64})=(\S{8,})$/.exec(entry);
      if (!match?.[1] || !match[2]) {
        throw new Error(
          `KILN_API_KEYS entry "${entry.split("=")[0]}=…" is not tenant=key (tenant: letters, digits, _ or -; key: at least 8 characters).`,
        );
      }
      return { tenant: match[1], apiKey: match[2] };
    });
}
