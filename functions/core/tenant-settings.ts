import { z } from "zod";
import { bareHost, isLocalhostName, parseIp } from "./egress-policy.js";
import { jsonSchemaRules } from "./schema-rules.js";

/**
 * Per-tenant settings, read by the worker when a job renders. `egress.allowHosts` names the hosts a
 * tenant's templates may load from (over https), besides Kiln's own signed asset origin;
 * `urlJobs.javascriptHosts` the hosts whose pages may run their scripts in a URL job.
 */
const TENANT_SETTINGS_LIMITS = { maxAllowHosts: 100 } as const;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Why `entry` is not an allowlist host, or undefined when it is one. */
export function allowHostProblem(entry: string): string | undefined {
  if (entry.includes("://")) return "must be a host name, without a scheme (https is implied)";
  if (/[/?#]/.test(entry)) return "must be a host name, without a path";
  if (entry.startsWith("[") || parseIp(entry) || isIpv4Spelling(entry)) {
    return "must be a host name, not an IP address";
  }
  if (entry.includes(":")) return "must be a host name, without a port (https on 443 is implied)";
  if (/[^\x20-\x7e]/.test(entry)) return "must be ASCII: write an internationalised name in its xn-- form";
  const wildcard = entry.startsWith("*.");
  const name = wildcard ? entry.slice(2) : entry;
  if (name.includes("*")) return "may use * only as a whole first label, as in *.example.com";
  if (name.length > 253) return "must be at most 253 characters";
  const labels = name.split(".");
  if (!labels.every((l) => LABEL.test(l))) {
    return "must be a host name of letters, digits and '-' in dot-separated labels";
  }
  if (labels.length < 2) return "must be a fully qualified name such as cdn.example.com";
  if (isLocalhostName(name)) return "must not name localhost";
  return undefined;
}

/**
 * IPv4 in a spelling the URL parser would turn into an address (`2130706433`, `0x7f.1`): a host whose
 * last label is numeric is never a name.
 */
function isIpv4Spelling(entry: string): boolean {
  const last = entry.split(".").at(-1) ?? "";
  return /^(0x[0-9a-f]*|\d+)$/i.test(last);
}

/**
 * An allowlist host for JSON Schema readers: labels of letters, digits and '-', an optional `*.` first
 * label, a last label that is not a number (an IPv4 spelling). Length, localhost and label rules stay
 * the function's.
 */
const ALLOW_HOST = "^\\s*(?:\\*\\.)?(?:[A-Za-z0-9-]+\\.)+(?![0-9]+\\.?\\s*$)(?!0[xX])[A-Za-z0-9-]+\\.?\\s*$";

// `overwrite`, not `transform`: normalising keeps the type, so the settings as answered have a schema.
const AllowHostSchema = z
  .string()
  .max(260)
  .overwrite((h) => bareHost(h.trim()))
  .superRefine((host, ctx) => {
    const problem = allowHostProblem(host);
    if (problem) ctx.addIssue({ code: "custom", message: `${JSON.stringify(host)} ${problem}` });
  })
  .register(jsonSchemaRules, { pattern: ALLOW_HOST });

/** The body of PUT /v1/settings: the whole settings, replacing what was stored. */
export const TenantSettingsSchema = z.strictObject({
  egress: z
    .strictObject({
      /** Hosts templates may load from over https: `cdn.example.com` or `*.example.com`. */
      allowHosts: z
        .array(AllowHostSchema)
        .max(TENANT_SETTINGS_LIMITS.maxAllowHosts)
        .overwrite((hosts) => [...new Set(hosts)])
        .describe(
          `Hosts templates may load from over https besides Kiln's own assets, at most ${TENANT_SETTINGS_LIMITS.maxAllowHosts}: \`cdn.example.com\` or \`*.example.com\`; no schemes, paths, ports or IP addresses.`,
        ),
    })
    .default({ allowHosts: [] })
    .describe("What templates and live pages may reach over the network."),
  urlJobs: z
    .strictObject({
      javascriptHosts: z
        .array(AllowHostSchema)
        .max(TENANT_SETTINGS_LIMITS.maxAllowHosts)
        .overwrite((hosts) => [...new Set(hosts)])
        .describe(
          'Hosts whose pages may run their JavaScript in a URL job that asks for it (`"javascript": true`): exact names or `*.example.com`. Requests still go only to allowed hosts.',
        ),
    })
    .optional()
    .describe("What URL jobs (`source.url`) may do beyond loading allowed hosts."),
});
export type TenantSettings = z.output<typeof TenantSettingsSchema>;

/** What a tenant that never stored settings has: no hosts beyond Kiln's own. */
export const DEFAULT_TENANT_SETTINGS: TenantSettings = { egress: { allowHosts: [] } };
