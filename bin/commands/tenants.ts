import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { AwsCliGatewayKeys } from "../../functions/adapters/aws/aws-cli-gateway-keys.js";
import {
  DynamoDbApiKeyAdmin,
  DynamoDbTenantRegistry,
  type TenantDataNames,
  tenantDataStores,
} from "../../functions/adapters/aws/tenant-admin.js";
import {
  addApiKey,
  createTenant,
  DEFAULT_TIERS,
  deleteTenant,
  listTenants,
  parseTiers,
  revokeApiKey,
  TENANT_DATA_KINDS,
  TenantAdminError,
  type TenantAdminPorts,
  totalOf,
} from "../../functions/core/tenants.js";
import { type Command, EXIT, UsageError } from "./cli-support.js";
import { localStandIns } from "./local-stand-ins.js";

const USAGE = `kiln tenants <subcommand> [--data-dir DIR | --outputs FILE [--stack NAME] [--region R]]

  create <tenant> [--tier NAME]        register a tenant (again with another tier: move it there)
  list                                 tenants, their tiers and how many keys each has
  keys add <tenant>                    a new API key; printed once, stored only as its hash
  keys list <tenant>                   the tenant's key ids
  keys revoke <tenant> <key-id>        revoke one key, named by its id (or the key's first characters)
  delete <tenant> [--yes]              delete everything of the tenant; without --yes only count it

Local (default): the local stack of --data-dir (default $KILN_DATA_DIR or .kiln), running or not.
Its tiers come from $KILN_TIERS (the JSON of --context tiers), else one "standard" tier.

Deployed: --outputs is the file \`cdk deploy --outputs-file FILE\` wrote (--stack picks the stack when
it holds several). Credentials and region come from the usual AWS environment. Keys are created in
API Gateway (with the AWS CLI, aws) and associated with the tier's usage plan. delete Scans the jobs
table: it reads the whole table once.`;

export const tenants: Command = {
  summary: "create tenants, add and revoke their API keys, delete all of a tenant's data",
  usage: USAGE,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tier: { type: "string" },
        yes: { type: "boolean", default: false },
        "data-dir": { type: "string" },
        outputs: { type: "string" },
        stack: { type: "string" },
        region: { type: "string" },
      },
    });
    const [sub, ...args] = positionals;
    const admin = values.outputs
      ? await deployedAdmin(values.outputs, values.stack, values.region)
      : await localAdmin(resolve(values["data-dir"] ?? process.env.KILN_DATA_DIR ?? ".kiln"));
    try {
      return await runSubcommand(admin.ports, sub, args, values);
    } catch (err) {
      if (err instanceof TenantAdminError) throw new UsageError(err.message);
      throw err;
    } finally {
      await admin.stop();
    }
  },
};

function exactly(args: string[], names: string[]): string[] {
  if (args.length !== names.length) {
    throw new UsageError(`expected ${names.map((n) => `<${n}>`).join(" ")}, got "${args.join(" ")}"`);
  }
  return args;
}

async function runSubcommand(
  ports: TenantAdminPorts,
  sub: string | undefined,
  args: string[],
  values: { tier?: string | undefined; yes?: boolean | undefined },
): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  switch (sub) {
    case "create": {
      const [tenant = ""] = exactly(args, ["tenant"]);
      const { record, change } = await createTenant(ports, tenant, values.tier);
      out(`Tenant ${record.tenant}: ${change} (tier ${record.tier}).`);
      return EXIT.ok;
    }
    case "list": {
      exactly(args, []);
      const rows = await listTenants(ports);
      if (rows.length === 0) out("No tenants.");
      for (const r of rows) {
        out(
          `${r.tenant}\ttier ${r.tier}\t${r.keys} key${r.keys === 1 ? "" : "s"}${r.registered ? "" : "\t(keys only: not created with kiln tenants create)"}`,
        );
      }
      return EXIT.ok;
    }
    case "keys": {
      const [action, ...rest] = args;
      if (action === "add") {
        const [tenant = ""] = exactly(rest, ["tenant"]);
        const { apiKey, record } = await addApiKey(ports, tenant);
        out(`New API key of ${tenant} (id ${record.keyId}); it is shown only now:`);
        out(apiKey);
        return EXIT.ok;
      }
      if (action === "list") {
        const [tenant = ""] = exactly(rest, ["tenant"]);
        const keys = await ports.keys.list(tenant);
        if (keys.length === 0) out(`Tenant ${tenant} has no keys.`);
        for (const k of keys) out(`${k.keyId}\t${k.prefix ? `${k.prefix}…` : "-"}\t${k.createdAt ?? "-"}`);
        return EXIT.ok;
      }
      if (action === "revoke") {
        const [tenant = "", which = ""] = exactly(rest, ["tenant", "key-id"]);
        const key = await revokeApiKey(ports, tenant, which);
        out(`Revoked key ${key.keyId} of ${tenant}.`);
        return EXIT.ok;
      }
      throw new UsageError(`kiln tenants keys takes add, list or revoke, not "${action ?? ""}"`);
    }
    case "delete": {
      const [tenant = ""] = exactly(args, ["tenant"]);
      const dryRun = !values.yes;
      const counts = await deleteTenant(ports, tenant, { dryRun });
      const total = totalOf(counts);
      if (total === 0) {
        out(`Nothing of tenant ${tenant} is stored: nothing to delete.`);
        return EXIT.ok;
      }
      out(dryRun ? `Would delete of tenant ${tenant}:` : `Deleted of tenant ${tenant}:`);
      for (const kind of TENANT_DATA_KINDS) if (counts[kind] > 0) out(`  ${kind}: ${counts[kind]}`);
      out(`  total: ${total}`);
      if (dryRun) {
        out(`Nothing was deleted. Run again with --yes to delete it.`);
        return EXIT.usage;
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(`kiln tenants takes create, list, keys or delete, not "${sub ?? ""}"`);
  }
}

interface Admin {
  readonly ports: TenantAdminPorts;
  stop(): Promise<void>;
}

/**
 * The local stack's stores, running or not (local-stand-ins.ts); the table and buckets are made if this
 * data dir never had a stack.
 */
async function localAdmin(dataDir: string): Promise<Admin> {
  // Loaded only here, so that a deployed Kiln's admin does not pull in the stand-ins.
  const { LOCAL_NAMES, ensureBucket, ensureJobsTable } = await import("../../functions/local/resources.js");
  const { localClientConfig } = await import("../../functions/local/aws-clients.js");
  const tiers = process.env.KILN_TIERS ? parseTiers(process.env.KILN_TIERS, "KILN_TIERS") : DEFAULT_TIERS;
  const standIns = await localStandIns(dataDir, { dynamodb: true });
  if (!standIns.dynamodb) throw new Error("the local stack answered without its DynamoDB endpoint");
  const dynamodb = new DynamoDBClient(localClientConfig(standIns.dynamodb));
  const s3 = new S3Client(localClientConfig(standIns.sqsS3));
  const stop = async () => {
    dynamodb.destroy();
    s3.destroy();
    await standIns.stop();
  };
  try {
    await ensureJobsTable(dynamodb, LOCAL_NAMES.jobsTable, dataDir);
    for (const bucket of [
      LOCAL_NAMES.templatesBucket,
      LOCAL_NAMES.assetsBucket,
      LOCAL_NAMES.outputsBucket,
      LOCAL_NAMES.payloadsBucket,
    ]) {
      await ensureBucket(s3, bucket);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const ports = adminPorts({ dynamodb, s3 }, Object.keys(tiers), {
    jobsTable: LOCAL_NAMES.jobsTable,
    templatesBucket: LOCAL_NAMES.templatesBucket,
    assetsBucket: LOCAL_NAMES.assetsBucket,
    outputsBucket: LOCAL_NAMES.outputsBucket,
    payloadsBucket: LOCAL_NAMES.payloadsBucket,
    templatesVersioned: false,
  });
  return { ports, stop };
}

/** The stack outputs `kiln tenants` needs (lib/kiln-stack.ts). */
const OUTPUT_KEYS = [
  "JobsTableName",
  "TemplatesBucketName",
  "AssetsBucketName",
  "OutputsBucketName",
  "PayloadsBucketName",
  "UsagePlanIds",
] as const;

async function deployedAdmin(file: string, stackName: string | undefined, region: string | undefined) {
  const all = JSON.parse(await readFile(file, "utf8")) as Record<string, Record<string, string>>;
  const stacks = Object.keys(all);
  const name = stackName ?? (stacks.length === 1 ? stacks[0] : undefined);
  if (!name) throw new UsageError(`${file} holds the stacks ${stacks.join(", ")}: pick one with --stack`);
  const outputs = all[name];
  if (!outputs) throw new UsageError(`${file} has no stack ${name} (it has ${stacks.join(", ")})`);
  const missing = OUTPUT_KEYS.filter((k) => !outputs[k]);
  if (missing.length > 0) {
    throw new UsageError(
      `${file} lacks the outputs ${missing.join(", ")} of ${name}: deploy this version of Kiln and write the outputs again`,
    );
  }
  const usagePlans = JSON.parse(outputs.UsagePlanIds as string) as Record<string, string>;
  const config = region ? { region } : {};
  const dynamodb = new DynamoDBClient(config);
  const s3 = new S3Client(config);
  // The deployed tiers are the usage plans; their limits live in API Gateway.
  const ports = adminPorts(
    { dynamodb, s3 },
    Object.keys(usagePlans),
    {
      jobsTable: outputs.JobsTableName as string,
      templatesBucket: outputs.TemplatesBucketName as string,
      assetsBucket: outputs.AssetsBucketName as string,
      outputsBucket: outputs.OutputsBucketName as string,
      payloadsBucket: outputs.PayloadsBucketName as string,
      templatesVersioned: true,
    },
    new AwsCliGatewayKeys(usagePlans, region),
  );
  return {
    ports,
    stop: async () => {
      dynamodb.destroy();
      s3.destroy();
    },
  };
}

function adminPorts(
  clients: { dynamodb: DynamoDBClient; s3: S3Client },
  tiers: readonly string[],
  names: TenantDataNames,
  gateway?: TenantAdminPorts["gateway"],
): TenantAdminPorts {
  return {
    registry: new DynamoDbTenantRegistry(clients.dynamodb, names.jobsTable),
    keys: new DynamoDbApiKeyAdmin(clients.dynamodb, names.jobsTable),
    stores: tenantDataStores(clients, names),
    tiers,
    now: () => new Date(),
    ...(gateway ? { gateway } : {}),
  };
}
