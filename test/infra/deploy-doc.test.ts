import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Validations } from "aws-cdk-lib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ASSETS } from "../../functions/core/assets.js";
import { LIMITS } from "../../functions/core/render-request.js";
import {
  API_GATEWAY_MAX_PAYLOAD_BYTES,
  LAMBDA_MAX_INVOKE_PAYLOAD_BYTES,
} from "../../functions/handlers/api/http-errors.js";
import { API_OPERATIONS } from "../../functions/handlers/api/operations.js";
import { FUNCTION_DEFINITIONS } from "../../functions/handlers/definitions.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";
import { ACCOUNT, ALL_OPTIONS, REGION } from "./stack-options-fixture.js";
import { type Cfn, resources, type Synthesized, synthKiln } from "./support.js";

// docs/deploy.md against what the code and the synthesized stack say.
const DOC = readFileSync(join(REPO_ROOT, "docs/deploy.md"), "utf8");

/** The text of the `## title` section, up to the next `## `. */
function section(title: string): string {
  const start = DOC.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/deploy.md has no "## ${title}" section`);
  const end = DOC.indexOf("\n## ", start + 1);
  return DOC.slice(start, end < 0 ? undefined : end);
}

/** A Markdown table with columns padded to their widest cell, as the docs are written. */
function markdownTable(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(3, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The API routes table of docs/deploy.md, as functions/handlers/api/operations.ts defines the routes. */
function apiRoutesTable(): string {
  return markdownTable([
    ["Method", "Path", "API key", "What it does"],
    ...API_OPERATIONS.map((op) => [
      `\`${op.method}\``,
      `\`${op.path}\``,
      op.public ? "none" : "required",
      op.summary,
    ]),
  ]);
}

/** A finding id as docs/deploy.md writes it: logical ids without their hash (`<BucketsOutputs.Arn>`). */
const readable = (id: string) =>
  id.replace(/^Annotation::/, "").replace(/<([A-Za-z0-9]+?)[0-9A-F]{8}\.Arn>/g, "<$1.Arn>");

let dev: Synthesized;
let prod: Synthesized;
/** Every platform option at once: their acknowledgements are listed too. */
let allOptions: Synthesized;
beforeAll(() => {
  dev = synthKiln({ stage: "dev" }, { bundling: false });
  prod = synthKiln({ stage: "prod" }, { bundling: false });
  vi.stubEnv("CDK_DEFAULT_ACCOUNT", ACCOUNT);
  vi.stubEnv("CDK_DEFAULT_REGION", REGION);
  allOptions = synthKiln({ stage: "prod", ...ALL_OPTIONS }, { bundling: false });
  vi.unstubAllEnvs();
});
afterAll(() => {
  dev?.dispose();
  prod?.dispose();
  allOptions?.dispose();
});

describe("docs/deploy.md", () => {
  it("lists every API route of the route table, and says which need no key", () => {
    const routes = section("API routes");
    expect(
      routes.includes(apiRoutesTable()),
      `paste this table into the "API routes" section of docs/deploy.md:\n${apiRoutesTable()}\n`,
    ).toBe(true);
    expect(DOC).toContain(`${API_OPERATIONS.length} routes`);
  });

  it("quotes the body limits the gateway and the api function enforce", () => {
    const limits = section("Why a REST API (API Gateway v1) and not an HTTP API");
    expect(API_GATEWAY_MAX_PAYLOAD_BYTES).toBe(10 * 1024 * 1024);
    expect(limits).toContain(`${LIMITS.requestBytes / 1024 / 1024} MiB`);
    expect(limits).toContain(`${ASSETS.maxBytes / 1024 / 1024} MiB`);
    expect(limits).toContain(`${LIMITS.inlineRequestBytes / 1024} KiB`);
    expect(limits).toContain("10 MiB");
    expect(limits).toContain(`${LAMBDA_MAX_INVOKE_PAYLOAD_BYTES.toLocaleString("en-US")} bytes`);
    expect(limits).toContain(`up to ${ASSETS.maxUploadBytes / 1024 / 1024} MiB (\`ASSETS.maxUploadBytes\`)`);
    expect(limits).toContain(`valid for ${ASSETS.uploadUrlTtlSeconds} s`);
    expect(DOC).not.toMatch(/256 KB/);
  });

  it("lists every cdk-nag acknowledgement, and no other", () => {
    const table = section("cdk-nag acknowledgements");
    const acknowledged = new Set(
      [dev, prod, allOptions]
        .flatMap((s) =>
          s.app.node
            .findAll()
            .flatMap((c) =>
              c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY),
            )
            .flatMap((m) => Object.keys(m.data as Record<string, string>).map(readable)),
        )
        .filter((id) => id.startsWith("AwsSolutions-")),
    );
    expect(acknowledged.size).toBeGreaterThan(10);
    const listed = new Set([...table.matchAll(/`(AwsSolutions-[^`]+)`/g)].map((m) => m[1] as string));
    expect(
      [...acknowledged].filter((id) => !listed.has(id)),
      "acknowledged, missing from the table",
    ).toEqual([]);
    expect(
      [...listed].filter((id) => !acknowledged.has(id)),
      "in the table, acknowledged nowhere",
    ).toEqual([]);
  });

  it("names every alarm the stack creates", () => {
    const monitoring = section("Monitoring");
    const functions = Object.values(FUNCTION_DEFINITIONS).map((d) => d.name);
    for (const name of functions) expect(monitoring).toContain(`\`${name}\``);
    // A function's alarms are listed once, as `kiln-<stage>-<function>-errors` and `-throttles`.
    const perFunction = new RegExp(`^kiln-dev-(?:${functions.join("|")})-(errors|throttles)$`);
    const names = resources(dev.json, "AWS::CloudWatch::Alarm").map((a) =>
      String(a.properties.AlarmName)
        .replace(perFunction, "kiln-dev-<function>-$1")
        .replace(/^kiln-dev-/, "kiln-<stage>-"),
    );
    expect(names.length).toBeGreaterThan(10);
    // Only a us-east-1 stack has it (see alarms.test.ts); the section says how to add it elsewhere.
    for (const name of [...names, "kiln-<stage>-cdn-5xx-rate"]) expect(monitoring).toContain(`\`${name}\``);
  });

  it("says what a teardown leaves behind, in each stage", () => {
    const teardown = section("Teardown");
    const stages = { dev: teardown.slice(0, teardown.indexOf("**prod**")), prod: teardown };
    for (const [stage, synth] of [
      ["dev", dev],
      ["prod", prod],
    ] as const) {
      const kept = Object.entries(synth.json.Resources as Record<string, Cfn>).filter(
        ([, r]) => r.DeletionPolicy === "Retain",
      );
      expect(kept.length).toBeGreaterThan(0);
      for (const [id, r] of kept) {
        expect(stages[stage], `${id} is retained in ${stage}`).toContain(`\`${r.Type}\``);
      }
    }
    expect(teardown).not.toMatch(/removes everything/);
    expect(teardown).not.toMatch(/^\s*aws s3 rb .*--force/m);
    expect(teardown).toMatch(/DeleteMarkers/);
  });
});
