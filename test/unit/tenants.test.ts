import { describe, expect, it } from "vitest";
import { AwsCliGatewayKeys } from "../../functions/adapters/aws/aws-cli-gateway-keys.js";
import { itemKindOf } from "../../functions/adapters/aws/tenant-admin.js";
import { InProcessRateLimiter } from "../../functions/adapters/memory/rate-limiter.js";
import { hashApiKey } from "../../functions/core/api-keys.js";
import {
  type ApiKeyRecord,
  addApiKey,
  createTenant,
  DEFAULT_TIERS,
  deleteTenant,
  type GatewayKeys,
  listTenants,
  parseTiers,
  revokeApiKey,
  type TenantAdminPorts,
  type TenantDataStore,
  type TenantRecord,
  type TenantThing,
  totalOf,
} from "../../functions/core/tenants.js";

/** In-memory ports: a registry, key items, one store of labelled things, and a recording gateway. */
function fakes(options: { gateway?: boolean } = {}) {
  const records = new Map<string, TenantRecord>();
  const keys = new Map<string, ApiKeyRecord>();
  const things: Array<TenantThing<string> & { tenant: string }> = [];
  const calls: string[] = [];
  let n = 0;
  const store: TenantDataStore<string> = {
    async *list(tenant) {
      for (const t of things.filter((x) => x.tenant === tenant)) yield { kind: t.kind, ref: t.ref };
    },
    async delete(batch) {
      for (const { ref } of batch)
        things.splice(
          things.findIndex((t) => t.ref === ref),
          1,
        );
      calls.push(`store.delete ${batch.length}`);
    },
  };
  const gateway: GatewayKeys = {
    async create(tenant, _key, tier) {
      calls.push(`gateway.create ${tenant} ${tier}`);
      return `gw-${++n}`;
    },
    async move(id, from, to) {
      calls.push(`gateway.move ${id} ${from}->${to}`);
    },
    async delete(id) {
      calls.push(`gateway.delete ${id}`);
    },
  };
  const ports: TenantAdminPorts = {
    registry: {
      get: async (t) => records.get(t),
      put: async (r) => void records.set(r.tenant, r),
      list: async () => [...records.values()],
      delete: async (t) => void records.delete(t),
    },
    keys: {
      list: async (tenant) => [...keys.values()].filter((k) => tenant === undefined || k.tenant === tenant),
      add: async (r) => void keys.set(r.keyHash, r),
      remove: async (r) => {
        calls.push(`keys.remove ${r.keyId}`);
        keys.delete(r.keyHash);
      },
    },
    stores: [store as TenantDataStore<never>],
    tiers: ["standard", "gold"],
    now: () => new Date("2026-12-01T00:00:00Z"),
    newApiKey: () => `kiln_key${++n}_${"x".repeat(20)}`,
    ...(options.gateway ? { gateway } : {}),
  };
  return { ports, records, keys, things, calls };
}

describe("parseTiers", () => {
  it("reads tiers from JSON text and keeps an optional quota", () => {
    expect(
      parseTiers(
        '{"standard":{"rateLimit":10,"burst":20},"gold":{"rateLimit":50,"burst":100,"quota":10000}}',
        "x",
      ),
    ).toEqual({
      standard: { rateLimit: 10, burst: 20 },
      gold: { rateLimit: 50, burst: 100, quota: 10000 },
    });
  });

  it.each([
    ["not json", "--context tiers must be JSON"],
    ["[]", "--context tiers must be an object of tiers"],
    ["{}", "must name at least one tier"],
    ['{"a b":{"rateLimit":1,"burst":1}}', 'tier name "a b"'],
    ['{"gold":{"rateLimit":0,"burst":1}}', "--context tiers.gold.rateLimit must be a positive number"],
    ['{"gold":{"rateLimit":1,"burst":1.5}}', "--context tiers.gold.burst must be a positive whole number"],
    ['{"gold":{"rateLimit":1,"burst":1,"quota":-1}}', "--context tiers.gold.quota"],
    ['{"gold":{"rateLimit":1,"burst":1,"limit":3}}', "unknown field limit"],
  ])("refuses %s naming the key and field", (text, message) => {
    expect(() => parseTiers(text, "--context tiers")).toThrow(message);
  });

  it("has today's single throttle as the default tier", () => {
    expect(DEFAULT_TIERS).toEqual({ standard: { rateLimit: 10, burst: 20 } });
  });
});

describe("tenants and keys", () => {
  it("creates a tenant once, refuses bad names and unknown tiers", async () => {
    const { ports } = fakes();
    expect((await createTenant(ports, "acme")).change).toBe("created");
    expect((await createTenant(ports, "acme")).change).toBe("unchanged");
    await expect(createTenant(ports, "ac#me")).rejects.toThrow('tenant "ac#me" is not a tenant name');
    await expect(createTenant(ports, "beta", "platinum")).rejects.toThrow('tier "platinum" is not one of');
  });

  it("stores only the key's hash and moves the gateway keys when the tier changes", async () => {
    const { ports, keys, calls } = fakes({ gateway: true });
    await createTenant(ports, "acme");
    const { apiKey, record } = await addApiKey(ports, "acme");
    expect(record).toMatchObject({
      keyHash: hashApiKey(apiKey),
      keyId: hashApiKey(apiKey).slice(0, 12),
      gatewayKeyId: "gw-2",
    });
    expect(JSON.stringify([...keys.values()])).not.toContain(apiKey);
    expect((await createTenant(ports, "acme", "gold")).change).toBe("tier changed");
    expect(calls).toEqual(["gateway.create acme standard", "gateway.move gw-2 standard->gold"]);
    await expect(addApiKey(ports, "nobody")).rejects.toThrow("create it with kiln tenants create nobody");
  });

  it("revokes exactly one key by a prefix of its id, gateway key first", async () => {
    const { ports, keys, calls } = fakes({ gateway: true });
    await createTenant(ports, "acme");
    const a = await addApiKey(ports, "acme");
    const b = await addApiKey(ports, "acme");
    await expect(revokeApiKey(ports, "acme", "zzzz")).rejects.toThrow(
      `its keys: ${a.record.keyId}, ${b.record.keyId}`,
    );
    await expect(revokeApiKey(ports, "acme", "ab")).rejects.toThrow("at least 4 characters");
    expect((await revokeApiKey(ports, "acme", a.record.keyId.slice(0, 6))).keyId).toBe(a.record.keyId);
    expect(calls.slice(-2)).toEqual([
      `gateway.delete ${a.record.gatewayKeyId}`,
      `keys.remove ${a.record.keyId}`,
    ]);
    expect([...keys.values()].map((k) => k.keyId)).toEqual([b.record.keyId]);
  });

  it("lists registered tenants and tenants that only have keys", async () => {
    const { ports, keys } = fakes();
    await createTenant(ports, "zeta", "gold");
    await addApiKey(ports, "zeta");
    keys.set("h", { tenant: "alpha", keyHash: "h", keyId: "h" });
    expect(await listTenants(ports)).toEqual([
      expect.objectContaining({ tenant: "alpha", tier: "standard", keys: 1, registered: false }),
      expect.objectContaining({ tenant: "zeta", tier: "gold", keys: 1, registered: true }),
    ]);
  });
});

describe("deleteTenant", () => {
  it("counts without deleting on a dry run, deletes everything of the tenant, and finds nothing the second time", async () => {
    const { ports, things, records, keys } = fakes();
    await createTenant(ports, "acme");
    await createTenant(ports, "other");
    await addApiKey(ports, "acme");
    await addApiKey(ports, "other");
    for (let i = 0; i < 1200; i++)
      things.push({ tenant: "acme", kind: i % 2 ? "jobs" : "outputs", ref: `a${i}` });
    things.push({ tenant: "other", kind: "jobs", ref: "o1" });

    const dry = await deleteTenant(ports, "acme", { dryRun: true });
    expect(dry).toMatchObject({ jobs: 600, outputs: 600, "api keys": 1, "tenant record": 1 });
    expect(things).toHaveLength(1201);

    const done = await deleteTenant(ports, "acme", { dryRun: false });
    expect(done).toEqual(dry);
    expect(things.map((t) => t.ref)).toEqual(["o1"]);
    expect([...records.keys()]).toEqual(["other"]);
    expect([...keys.values()].map((k) => k.tenant)).toEqual(["other"]);
    expect(totalOf(await deleteTenant(ports, "acme", { dryRun: false }))).toBe(0);
  });

  it("revokes the keys before it deletes any data", async () => {
    const { ports, things, calls } = fakes({ gateway: true });
    await createTenant(ports, "acme");
    await addApiKey(ports, "acme");
    things.push({ tenant: "acme", kind: "assets", ref: "x" });
    calls.length = 0;
    await deleteTenant(ports, "acme", { dryRun: false });
    expect(calls).toEqual(["gateway.delete gw-2", expect.stringMatching(/^keys.remove /), "store.delete 1"]);
  });
});

describe("itemKindOf", () => {
  it.each([
    ["JOB#1", "JOB", "jobs"],
    ["JOB#1", "REQUEST", "job requests"],
    ["BATCH#1", "BATCH", "batches"],
    ["IDEMPOTENCY#ab", "IDEMPOTENCY", "idempotency keys"],
    ["TEMPLATE#letter", "VERSION#0000000001", "template versions"],
    ["TEMPLATES", "TEMPLATE#letter", "template index items"],
    ["SETTINGS", "SETTINGS", "settings"],
    ["WEBHOOK", "SECRET", "webhook secret"],
    ["SOMETHING", "NEW", "other items"],
  ])("%s / %s is %s", (rest, sk, kind) => {
    expect(itemKindOf(rest, sk)).toBe(kind);
  });
});

describe("InProcessRateLimiter with tiers", () => {
  it("limits a tenant with a stored tier by its tier, the others by the default", async () => {
    let now = 0;
    const clock = { now: () => new Date(now) };
    const limiter = new InProcessRateLimiter({ perSecond: 1, burst: 1 }, clock, async (tenant) =>
      tenant === "gold" ? { perSecond: 1, burst: 3 } : undefined,
    );
    const allowed = async (tenant: string, n: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) if ((await limiter.take(tenant)).allowed) ok++;
      return ok;
    };
    expect(await allowed("gold", 5)).toBe(3);
    expect(await allowed("plain", 5)).toBe(1);
    now += 1000;
    expect(await allowed("gold", 5)).toBe(1);
  });
});

describe("AwsCliGatewayKeys", () => {
  it("creates the key from a file (never on the command line) and puts it in the tier's usage plan", async () => {
    const calls: string[][] = [];
    const gateway = new AwsCliGatewayKeys(
      { standard: "plan-s", gold: "plan-g" },
      "eu-west-1",
      async (args) => {
        calls.push([...args]);
        return args[1] === "create-api-key" ? '{"id":"k1"}' : "{}";
      },
    );
    expect(await gateway.create("acme", "kiln_secret", "gold")).toBe("k1");
    expect(calls.flat()).not.toContain("kiln_secret");
    expect(calls[1]).toEqual([
      "apigateway",
      "create-usage-plan-key",
      "--usage-plan-id",
      "plan-g",
      "--key-id",
      "k1",
      "--key-type",
      "API_KEY",
      "--output",
      "json",
      "--region",
      "eu-west-1",
    ]);
  });

  it("deletes the new key when it cannot be put in a plan, and treats a key already gone as deleted", async () => {
    const calls: string[] = [];
    const gateway = new AwsCliGatewayKeys({ standard: "plan-s" }, undefined, async (args) => {
      calls.push(args[1] ?? "");
      if (args[1] === "create-api-key") return '{"id":"k1"}';
      if (args[1] === "create-usage-plan-key") throw new Error("TooManyRequestsException");
      throw new Error("NotFoundException: gone");
    });
    await expect(gateway.create("acme", "kiln_secret", "standard")).rejects.toThrow("TooManyRequests");
    expect(calls).toEqual(["create-api-key", "create-usage-plan-key", "delete-api-key"]);
    await expect(gateway.delete("k9")).resolves.toBeUndefined();
  });
});
