import type { LocalHostTarget } from "../adapters/chromium/egress-guard.js";
import { parseIp } from "../core/egress-policy.js";
import { allowHostProblem } from "../core/tenant-settings.js";

/** `KILN_LOCAL_HOSTS="shop.test=127.0.0.1:8080,…"`, read only by the local stack's composition root. */
export const LOCAL_HOSTS_SYNTAX = "name=address:port,… e.g. shop.test=127.0.0.1:8080";

/**
 * Host names a developer serves on this machine, for URL jobs against a local web server: the render
 * worker's egress guard reaches each name at its address and port over http or https, once a tenant
 * allowlists it. Nothing like it exists on AWS: no Lambda's configuration names it.
 */
export function parseLocalHosts(text: string): Map<string, LocalHostTarget> {
  const hosts = new Map<string, LocalHostTarget>();
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const match = /^([^=\s]+)=(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const name = match?.[1]?.toLowerCase() ?? "";
    const address = (match?.[2] ?? "").replace(/^\[|\]$/g, "");
    const port = Number(match?.[3]);
    if (!match || !parseIp(address) || port < 1 || port > 65_535) {
      throw new Error(`KILN_LOCAL_HOSTS entry "${entry}" is not ${LOCAL_HOSTS_SYNTAX}.`);
    }
    const problem = allowHostProblem(name);
    if (problem || name.startsWith("*.")) {
      throw new Error(
        `KILN_LOCAL_HOSTS name "${name}" ${problem ?? "must be one exact name, not a wildcard"}.`,
      );
    }
    hosts.set(name, { address, port });
  }
  return hosts;
}
