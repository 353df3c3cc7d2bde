/**
 * Tenant administration: tiers, tenants, their API keys, and the deletion of everything a tenant
 * stored. Pure orchestration over ports; the adapters (functions/adapters/aws/tenant-admin.ts) know
 * where each kind of thing lives. Run by the `kiln tenants` CLI with the operator's credentials,
 * never by a Kiln function.
 */
import { generateApiKey, hashApiKey, TENANT_NAME } from "./api-keys.js";
import type { RateLimit } from "./rate-limit.js";

/** Throttle and quota of one usage plan: what `--context tiers` holds per tier. */
export interface Tier {
  /** Steady-state requests per second per API key. */
  readonly rateLimit: number;
  /** Requests allowed at once. */
  readonly burst: number;
  /** Requests per day per API key; absent: no quota. */
  readonly quota?: number;
}

export type Tiers = Readonly<Record<string, Tier>>;

/** The tier of a tenant created without `--tier`. */
export const DEFAULT_TIER = "standard";

/** Today's single usage plan, as the one default tier. */
export const DEFAULT_TIERS: Tiers = { [DEFAULT_TIER]: { rateLimit: 10, burst: 20 } };

const TIER_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Parses tiers as JSON text or an object: `{"standard":{"rateLimit":10,"burst":20,"quota":10000}}`.
 * Every problem is a sentence that starts with `source` (the context key or variable) and names the tier
 * and field.
 */
export function parseTiers(raw: unknown, source: string): Tiers {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new Error(`${source} must be JSON such as {"standard":{"rateLimit":10,"burst":20}}.`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${source} must be an object of tiers, e.g. {"standard":{"rateLimit":10,"burst":20}}.`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw new Error(`${source} must name at least one tier.`);
  const tiers: Record<string, Tier> = {};
  for (const [name, spec] of entries) {
    const at = `${source}.${name}`;
    if (!TIER_NAME.test(name)) {
      throw new Error(`${source}: tier name "${name}" must be 1–32 letters, digits, _ or -.`);
    }
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
      throw new Error(`${at} must be an object with rateLimit, burst and an optional quota.`);
    }
    const { rateLimit, burst, quota, ...rest } = spec as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0)
      throw new Error(`${at} has unknown field ${unknown[0]}: use rateLimit, burst, quota.`);
    if (typeof rateLimit !== "number" || !(rateLimit > 0) || !Number.isFinite(rateLimit)) {
      throw new Error(`${at}.rateLimit must be a positive number of requests per second.`);
    }
    if (typeof burst !== "number" || !Number.isInteger(burst) || burst < 1) {
      throw new Error(`${at}.burst must be a positive whole number of requests.`);
    }
    if (quota !== undefined && (typeof quota !== "number" || !Number.isInteger(quota) || quota < 1)) {
      throw new Error(`${at}.quota must be a positive whole number of requests per day, or left out.`);
    }
    tiers[name] = { rateLimit, burst, ...(quota === undefined ? {} : { quota }) };
  }
  return tiers;
}

/** A tier as the local rate limiter applies it (the quota is API Gateway's alone). */
export function rateLimitOf(tier: Tier): RateLimit {
  return { perSecond: tier.rateLimit, burst: tier.burst };
}

/** A tenant name as the API accepts it (core/api-keys.ts), or a sentence naming what is wrong. */
export function checkTenantName(tenant: string): string {
  if (!TENANT_NAME.test(tenant)) {
    throw new TenantAdminError(
      `tenant "${tenant}" is not a tenant name: use 1–64 letters, digits, _ or - (the API's rule).`,
    );
  }
  return tenant;
}

/** A refusal the CLI prints as a usage error. */
export class TenantAdminError extends Error {}

export interface TenantRecord {
  readonly tenant: string;
  readonly tier: string;
  readonly createdAt: string;
}

/** One API key as Kiln keeps it: never the key, only its hash and what an operator recognises it by. */
export interface ApiKeyRecord {
  readonly tenant: string;
  /** The key's SHA-256 (core/api-keys.ts), which its item is stored under. */
  readonly keyHash: string;
  /** The first 12 hex digits of the key's SHA-256: what `keys revoke` takes. */
  readonly keyId: string;
  /** The key's first characters (`kiln_AbCd`), so an operator can tell keys apart. */
  readonly prefix?: string;
  readonly createdAt?: string;
  /** The API Gateway API key's id, on AWS. */
  readonly gatewayKeyId?: string;
}

/** What `keys revoke` and `keys list` show for a key: its first 12 hex digits of the hash. */
export function keyIdOf(apiKey: string): string {
  return hashApiKey(apiKey).slice(0, 12);
}

/** The registry of tenants and their tiers. */
export interface TenantRegistry {
  get(tenant: string): Promise<TenantRecord | undefined>;
  put(record: TenantRecord): Promise<void>;
  list(): Promise<TenantRecord[]>;
  delete(tenant: string): Promise<void>;
}

/** Kiln's own key items (hash → tenant), which the api function looks keys up in. */
export interface ApiKeyAdmin {
  list(tenant?: string): Promise<ApiKeyRecord[]>;
  add(record: ApiKeyRecord, apiKey: string): Promise<void>;
  remove(record: ApiKeyRecord): Promise<void>;
}

/** API Gateway's keys and usage plans, on AWS; absent locally (the api function is the gateway there). */
export interface GatewayKeys {
  /** Creates the key and associates it with the tier's usage plan; answers its id. */
  create(tenant: string, apiKey: string, tier: string): Promise<string>;
  /** Moves the key to another tier's usage plan. */
  move(gatewayKeyId: string, fromTier: string, toTier: string): Promise<void>;
  /** Deletes the key; a key already gone is not an error. */
  delete(gatewayKeyId: string): Promise<void>;
}

/** Kinds of a tenant's data, in the order `tenants delete` prints them. */
export const TENANT_DATA_KINDS = [
  "jobs",
  "job requests",
  "batches",
  "idempotency keys",
  "template versions",
  "template index items",
  "template objects",
  "assets",
  "outputs",
  "payloads",
  "settings",
  "webhook secret",
  "other items",
  "api keys",
  "tenant record",
] as const;
export type TenantDataKind = (typeof TENANT_DATA_KINDS)[number];

/** One thing of a tenant in one store; `ref` is what that store deletes it by. */
export interface TenantThing<Ref = unknown> {
  readonly kind: TenantDataKind;
  readonly ref: Ref;
}

/** A store (the jobs table, a bucket) that lists and deletes what belongs to a tenant. */
export interface TenantDataStore<Ref = unknown> {
  /** Every thing of `tenant` here, with its kind. Never anything of another tenant. */
  list(tenant: string): AsyncIterable<TenantThing<Ref>>;
  delete(things: ReadonlyArray<TenantThing<Ref>>): Promise<void>;
}

export interface TenantAdminPorts {
  readonly registry: TenantRegistry;
  readonly keys: ApiKeyAdmin;
  /** Absent locally. */
  readonly gateway?: GatewayKeys;
  /** The jobs table and every bucket. API keys and the tenant record are handled apart. */
  readonly stores: ReadonlyArray<TenantDataStore<never>>;
  /** The stack's tier names (its usage plans). */
  readonly tiers: readonly string[];
  readonly now: () => Date;
  /** @default generateApiKey */
  readonly newApiKey?: () => string;
}

function checkTier(ports: TenantAdminPorts, tier: string): string {
  if (!ports.tiers.includes(tier)) {
    throw new TenantAdminError(`tier "${tier}" is not one of the stack's tiers (${ports.tiers.join(", ")}).`);
  }
  return tier;
}

/**
 * Registers `tenant` in `tier`. Creating a tenant that exists in the same tier changes nothing; in
 * another tier its keys move to that tier's usage plan.
 */
export async function createTenant(
  ports: TenantAdminPorts,
  tenant: string,
  tier: string = DEFAULT_TIER,
): Promise<{ record: TenantRecord; change: "created" | "unchanged" | "tier changed" }> {
  checkTenantName(tenant);
  checkTier(ports, tier);
  const existing = await ports.registry.get(tenant);
  if (existing && existing.tier === tier) return { record: existing, change: "unchanged" };
  const record: TenantRecord = { tenant, tier, createdAt: existing?.createdAt ?? ports.now().toISOString() };
  if (existing && ports.gateway) {
    for (const key of await ports.keys.list(tenant)) {
      if (key.gatewayKeyId) await ports.gateway.move(key.gatewayKeyId, existing.tier, tier);
    }
  }
  await ports.registry.put(record);
  return { record, change: existing ? "tier changed" : "created" };
}

/** A new key for a registered tenant; the key itself is in the answer and stored nowhere. */
export async function addApiKey(
  ports: TenantAdminPorts,
  tenant: string,
): Promise<{ apiKey: string; record: ApiKeyRecord }> {
  checkTenantName(tenant);
  const registered = await ports.registry.get(tenant);
  if (!registered) {
    throw new TenantAdminError(
      `tenant "${tenant}" does not exist: create it with kiln tenants create ${tenant}.`,
    );
  }
  const apiKey = (ports.newApiKey ?? generateApiKey)();
  const gatewayKeyId = ports.gateway
    ? await ports.gateway.create(tenant, apiKey, registered.tier)
    : undefined;
  const record: ApiKeyRecord = {
    tenant,
    keyHash: hashApiKey(apiKey),
    keyId: keyIdOf(apiKey),
    prefix: apiKey.slice(0, 9),
    createdAt: ports.now().toISOString(),
    ...(gatewayKeyId ? { gatewayKeyId } : {}),
  };
  await ports.keys.add(record, apiKey);
  return { apiKey, record };
}

/**
 * Revokes the tenant's one key whose key id (or key prefix) starts with `which`. Ambiguous or unknown
 * prefixes are refused with the candidates, so one command never revokes two keys.
 */
export async function revokeApiKey(
  ports: TenantAdminPorts,
  tenant: string,
  which: string,
): Promise<ApiKeyRecord> {
  checkTenantName(tenant);
  if (which.length < 4)
    throw new TenantAdminError("name the key by at least 4 characters of its id or prefix.");
  const keys = await ports.keys.list(tenant);
  const matches = keys.filter((k) => k.keyId.startsWith(which) || (k.prefix && which.startsWith(k.prefix)));
  const [match] = matches;
  if (!match) {
    const known = keys.map((k) => k.keyId).join(", ") || "none";
    throw new TenantAdminError(`tenant "${tenant}" has no key "${which}" (its keys: ${known}).`);
  }
  if (matches.length > 1) {
    throw new TenantAdminError(
      `"${which}" names ${matches.length} keys of "${tenant}" (${matches.map((k) => k.keyId).join(", ")}): give more of the key id.`,
    );
  }
  await revoke(ports, match);
  return match;
}

async function revoke(ports: TenantAdminPorts, key: ApiKeyRecord): Promise<void> {
  // The gateway's key first: once it is gone no request with it reaches Kiln, whatever happens next.
  if (key.gatewayKeyId && ports.gateway) await ports.gateway.delete(key.gatewayKeyId);
  await ports.keys.remove(key);
}

export interface TenantSummary extends TenantRecord {
  readonly keys: number;
  /** Keys exist but no record does (keys from KILN_API_KEYS, or registered by hand before tenants existed). */
  readonly registered: boolean;
}

/** Registered tenants and tenants that only have keys, by name. */
export async function listTenants(ports: TenantAdminPorts): Promise<TenantSummary[]> {
  const [records, keys] = await Promise.all([ports.registry.list(), ports.keys.list()]);
  const byTenant = new Map<string, TenantSummary>();
  for (const r of records) byTenant.set(r.tenant, { ...r, keys: 0, registered: true });
  for (const k of keys) {
    const known = byTenant.get(k.tenant) ?? {
      tenant: k.tenant,
      tier: DEFAULT_TIER,
      createdAt: k.createdAt ?? "",
      keys: 0,
      registered: false,
    };
    byTenant.set(k.tenant, { ...known, keys: known.keys + 1 });
  }
  return [...byTenant.values()].sort((a, b) => a.tenant.localeCompare(b.tenant));
}

export type DeletionCounts = Readonly<Record<TenantDataKind, number>>;

function zeroCounts(): Record<TenantDataKind, number> {
  return Object.fromEntries(TENANT_DATA_KINDS.map((k) => [k, 0])) as Record<TenantDataKind, number>;
}

/** Things deleted per call to a store: a bound on what is held in memory at once. */
const DELETE_CHUNK = 500;

/**
 * Deletes everything `tenant` has: API keys first (so no request of theirs is accepted meanwhile), then
 * every store's things, the tenant record last (so a deletion cut short is still listed and can be run
 * again). With `dryRun` it only counts. Idempotent: a second run finds nothing and counts zeros.
 */
export async function deleteTenant(
  ports: TenantAdminPorts,
  tenant: string,
  options: { readonly dryRun: boolean },
): Promise<DeletionCounts> {
  checkTenantName(tenant);
  const counts = zeroCounts();
  for (const key of await ports.keys.list(tenant)) {
    counts["api keys"] += 1;
    if (!options.dryRun) await revoke(ports, key);
  }
  for (const store of ports.stores) {
    let chunk: Array<TenantThing<never>> = [];
    const flush = async () => {
      if (chunk.length > 0 && !options.dryRun) await store.delete(chunk);
      chunk = [];
    };
    for await (const thing of store.list(tenant)) {
      counts[thing.kind] += 1;
      chunk.push(thing);
      if (chunk.length >= DELETE_CHUNK) await flush();
    }
    await flush();
  }
  if (await ports.registry.get(tenant)) {
    counts["tenant record"] = 1;
    if (!options.dryRun) await ports.registry.delete(tenant);
  }
  return counts;
}

export function totalOf(counts: DeletionCounts): number {
  return TENANT_DATA_KINDS.reduce((sum, kind) => sum + counts[kind], 0);
}
