import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { GatewayKeys } from "../../core/tenants.js";

/** Runs `aws <args>` and answers its stdout; throws with its stderr. */
export type AwsCliRunner = (args: readonly string[]) => Promise<string>;

const run = promisify(execFile);

export const awsCli: AwsCliRunner = async (args) => {
  try {
    return (await run("aws", [...args], { maxBuffer: 1 << 20 })).stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === "ENOENT")
      throw new Error("the AWS CLI (aws) is not installed: it manages API Gateway keys.");
    throw new Error(`aws ${args.slice(0, 2).join(" ")} failed: ${(e.stderr ?? e.message).trim()}`);
  }
};

/**
 * API Gateway keys and usage plans through the AWS CLI, with the operator's credentials and region.
 * The CLI rather than an SDK client: Kiln's functions never manage keys, so the SDK's API Gateway
 * client would be a dependency of this one admin path only, and operators have the CLI already.
 */
export class AwsCliGatewayKeys implements GatewayKeys {
  constructor(
    /** Usage plan id by tier name (stack output UsagePlanIds). */
    private readonly usagePlans: Readonly<Record<string, string>>,
    private readonly region: string | undefined,
    private readonly cli: AwsCliRunner = awsCli,
  ) {}

  async create(tenant: string, apiKey: string, tier: string): Promise<string> {
    // The key goes in a file only this user can read, not on a command line other users can see.
    const dir = await mkdtemp(join(tmpdir(), "kiln-key-"));
    const input = join(dir, "create-api-key.json");
    let out: string;
    try {
      await writeFile(
        input,
        JSON.stringify({
          name: `${tenant}-${new Date().toISOString().replace(/[:.]/g, "")}`,
          description: `Kiln tenant ${tenant}`,
          enabled: true,
          value: apiKey,
          tags: { "kiln-tenant": tenant },
        }),
        { mode: 0o600 },
      );
      out = await this.aws(["apigateway", "create-api-key", "--cli-input-json", `file://${input}`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const { id } = JSON.parse(out) as { id?: string };
    if (!id) throw new Error("aws apigateway create-api-key answered no id.");
    try {
      await this.associate(id, tier);
    } catch (err) {
      // A key in no usage plan is refused by the API anyway; do not leave it behind.
      await this.delete(id).catch(() => {});
      throw err;
    }
    return id;
  }

  async move(gatewayKeyId: string, fromTier: string, toTier: string): Promise<void> {
    await this.associate(gatewayKeyId, toTier);
    await this.aws([
      "apigateway",
      "delete-usage-plan-key",
      "--usage-plan-id",
      this.planOf(fromTier),
      "--key-id",
      gatewayKeyId,
    ]).catch((err: Error) => {
      if (!/NotFoundException/.test(err.message)) throw err;
    });
  }

  async delete(gatewayKeyId: string): Promise<void> {
    await this.aws(["apigateway", "delete-api-key", "--api-key", gatewayKeyId]).catch((err: Error) => {
      if (!/NotFoundException/.test(err.message)) throw err;
    });
  }

  private async associate(keyId: string, tier: string): Promise<void> {
    await this.aws([
      "apigateway",
      "create-usage-plan-key",
      "--usage-plan-id",
      this.planOf(tier),
      "--key-id",
      keyId,
      "--key-type",
      "API_KEY",
    ]);
  }

  private planOf(tier: string): string {
    const plan = this.usagePlans[tier];
    if (!plan) throw new Error(`the stack has no usage plan for tier "${tier}".`);
    return plan;
  }

  private aws(args: string[]): Promise<string> {
    return this.cli([...args, "--output", "json", ...(this.region ? ["--region", this.region] : [])]);
  }
}
