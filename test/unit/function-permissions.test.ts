/**
 * The declared permissions (functions/handlers/<fn>/function.ts) against the code: the partition
 * patterns match the keys jobs-table.ts builds, no function reaches webhook secrets or API keys unless
 * it uses them, and every declared action is one the function's bundle can send.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  apiKeyItemKey,
  batchItemKey,
  batchJobsPartition,
  idempotencyItemKey,
  jobItemKey,
  jobRequestItemKey,
  openJobsShards,
  PK,
  renderCacheItemKey,
  templateIndexItemKey,
  templateVersionItemKey,
  tenantSettingsItemKey,
  webhookSecretItemKey,
} from "../../functions/adapters/aws/jobs-table.js";
import { BATCH_JOBS_INDEX, OPEN_JOBS_INDEX } from "../../functions/core/constants.js";
import { FUNCTION_DEFINITIONS, type FunctionName } from "../../functions/handlers/definitions.js";
import {
  INDEX_PARTITIONS,
  iamActionOf,
  matchesPattern,
  PARTITIONS,
  type ResourceAccess,
  type TableGrant,
} from "../../functions/handlers/permissions.js";

const ROOT = resolve(import.meta.dirname, "../..");
const names = Object.keys(FUNCTION_DEFINITIONS) as FunctionName[];
const accessOf = (name: FunctionName) =>
  Object.values(FUNCTION_DEFINITIONS[name].permissions as Record<string, ResourceAccess>);
const tableGrants = (name: FunctionName): TableGrant[] =>
  accessOf(name).flatMap((a) => (a.service === "dynamodb" ? [...a.grants] : []));

/** A partition key of each kind of item, as the stores build it (tenant names hold no `#`). */
const ITEMS: Record<keyof typeof PARTITIONS, string[]> = {
  job: [jobItemKey("acme", "j-1"), jobRequestItemKey("acme", "j-1")].map((k) => k[PK] as string),
  batch: [batchItemKey("acme", "b-1")[PK] as string],
  idempotency: [idempotencyItemKey("acme", "retry-1")[PK] as string],
  renderCache: [renderCacheItemKey("acme", "ab".repeat(32))[PK] as string],
  settings: [tenantSettingsItemKey("acme")[PK] as string],
  webhookSecret: [webhookSecretItemKey("acme")[PK] as string],
  templateVersions: [templateVersionItemKey("acme", "invoice", 3)[PK] as string],
  templateIndex: [templateIndexItemKey("acme", "invoice")[PK] as string],
  apiKey: [apiKeyItemKey("0f".repeat(32))[PK] as string],
};

/** The kinds of item a function's grants (any action, table only) can address. */
function reachable(name: FunctionName): string[] {
  const patterns = tableGrants(name)
    .filter((g) => !g.index)
    .flatMap((g) => g.partitionKeys);
  return Object.entries(ITEMS)
    .filter(([, keys]) => keys.some((k) => patterns.some((p) => matchesPattern(p, k))))
    .map(([kind]) => kind)
    .sort();
}

describe("the jobs table's partition patterns", () => {
  it("each match their kind of item and no other", () => {
    for (const [kind, pattern] of Object.entries(PARTITIONS)) {
      for (const [other, keys] of Object.entries(ITEMS)) {
        for (const key of keys) expect(matchesPattern(pattern, key), `${kind} ~ ${key}`).toBe(kind === other);
      }
    }
  });

  it("match the partitions of the indexes", () => {
    for (const shard of openJobsShards()) {
      expect(matchesPattern(INDEX_PARTITIONS[OPEN_JOBS_INDEX.indexName], shard)).toBe(true);
    }
    expect(
      matchesPattern(INDEX_PARTITIONS[BATCH_JOBS_INDEX.indexName], batchJobsPartition("acme", "b-1")),
    ).toBe(true);
  });
});

describe("declared table access", () => {
  it("keeps webhook secrets and API keys from every function that does not use them", () => {
    expect(reachable("renderWorker")).toEqual(["job", "renderCache", "settings", "templateVersions"]);
    expect(reachable("reconciler")).toEqual(["job"]);
    expect(reachable("batchFanOut")).toEqual(["batch", "job"]);
    expect(reachable("webhookDispatcher")).toEqual(["job", "webhookSecret"]);
    expect(reachable("signAssets")).toEqual([]);
    // The api resolves API keys and hands out the tenant's webhook secret.
    expect(reachable("api")).toEqual(Object.keys(PARTITIONS).sort());
  });

  it("names every partition pattern from PARTITIONS or INDEX_PARTITIONS, and only indexes that exist", () => {
    const known = new Set<string>([...Object.values(PARTITIONS), ...Object.values(INDEX_PARTITIONS)]);
    for (const name of names) {
      for (const g of tableGrants(name)) {
        for (const p of g.partitionKeys) expect(known, `${name}: ${p}`).toContain(p);
        if (g.index) {
          expect([BATCH_JOBS_INDEX.indexName, OPEN_JOBS_INDEX.indexName]).toContain(g.index);
          expect(g.actions).toEqual(["dynamodb:Query"]);
        }
      }
    }
  });
});

const SERVICE_OF_MODULE: Record<string, string> = {
  "@aws-sdk/client-dynamodb": "dynamodb",
  "@aws-sdk/lib-dynamodb": "dynamodb",
  "@aws-sdk/client-s3": "s3",
  "@aws-sdk/client-sqs": "sqs",
  "@aws-sdk/client-lambda": "lambda",
  "@aws-sdk/client-secrets-manager": "secretsmanager",
  "@aws-sdk/client-kms": "kms",
};

/**
 * The IAM actions the source files reachable from `entry` (relative imports, followed) can send: each
 * `new XxxCommand(` and `paginateXxx(` of an AWS SDK module the file imports it from.
 */
/** The TypeScript source a relative import names: `./x.js` is x.ts, `./x.chunk.mjs` is x.chunk.mts. */
function sourceOf(importer: string, specifier: string): string {
  return join(dirname(importer), specifier.replace(/\.js$/, ".ts").replace(/\.mjs$/, ".mts"));
}

function sendableActions(entry: string): Set<string> {
  const seen = new Set<string>();
  const actions = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
      const [, typeOnly, list = "", from = ""] = m;
      if (from.startsWith(".")) {
        if (!typeOnly) visit(sourceOf(file, from));
        continue;
      }
      const service = SERVICE_OF_MODULE[from];
      if (!service) continue;
      for (const raw of list.split(",")) {
        const name = raw.replace(/^\s*type\s+/, "").trim();
        const command = name.match(/^(\w+)Command$/)?.[1] ?? name.match(/^paginate(\w+)$/)?.[1];
        if (!command || raw.trim().startsWith("type ")) continue;
        const used = name.endsWith("Command") ? `new ${name}(` : `${name}(`;
        if (!source.includes(used)) continue;
        const action = iamActionOf(service, `${command}Command`);
        if (!action) throw new Error(`${file}: ${service} ${command} has no IAM action in iamActionOf`);
        actions.add(action);
      }
    }
    // Side-effect imports, and modules loaded on first use (a function's chunks among them).
    for (const m of source.matchAll(/import\s+"(\.[^"]+)"|import\("(\.[^"]+)"\)/g))
      visit(sourceOf(file, m[1] ?? m[2] ?? ""));
  };
  visit(join(ROOT, entry));
  return actions;
}

describe("declared actions", () => {
  it.each(names)("of %s are all ones its bundle's code can send", (name) => {
    const sendable = sendableActions(FUNCTION_DEFINITIONS[name].entry);
    const declared = accessOf(name).flatMap((a) =>
      a.service === "dynamodb" || a.service === "s3"
        ? a.grants.flatMap((g) => [...g.actions])
        : [...a.actions],
    );
    expect(declared.length).toBeGreaterThan(0);
    for (const action of declared) expect(sendable, `${name} declares ${action}`).toContain(action);
  });

  it("are found by following the entry's imports, and only there", () => {
    const signer = sendableActions(FUNCTION_DEFINITIONS.signAssets.entry);
    expect([...signer]).toEqual(["secretsmanager:GetSecretValue"]);
    const worker = sendableActions(FUNCTION_DEFINITIONS.renderWorker.entry);
    // The document client's BatchGetCommand, S3's HeadObject and SQS's batch visibility change.
    expect(worker).toContain("dynamodb:BatchGetItem");
    expect(worker).toContain("s3:GetObject");
    expect(worker).toContain("sqs:ChangeMessageVisibility");
    expect(worker).not.toContain("secretsmanager:GetSecretValue");
    expect(worker).not.toContain("dynamodb:Scan");
  });
});
