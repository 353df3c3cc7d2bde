import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type AppProps } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { buildKilnApp } from "../../lib/app.js";
import { NO_CDN_ALARM_WARNING } from "../../lib/constructs/monitoring.js";
import type { KilnStack } from "../../lib/kiln-stack.js";

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON is untyped by nature.
export type Cfn = any;

export interface CfnResource {
  readonly id: string;
  readonly type: string;
  readonly properties: Cfn;
  readonly raw: Cfn;
}

export interface Synthesized {
  readonly app: App;
  readonly stack: KilnStack;
  readonly template: Template;
  readonly json: Cfn;
  readonly assemblyDir: string;
  /** cdk's validation report (cdk-nag findings), when validation produced one. */
  readonly report?: Cfn;
  readonly dispose: () => void;
}

/**
 * Builds and synthesizes the Kiln app as `cdk synth` would (cdk.json feature flags, cdk-nag plugin) into a
 * temporary directory. `bundling: false` skips esbuild and the Chromium layer copy for tests that only read
 * configuration.
 */
export function synthKiln(
  context: Record<string, unknown> = {},
  options: { bundling?: boolean } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), "kiln-infra-"));
  const bundling = options.bundling ?? true;
  // The CLI turns on path and asset metadata; so do the tests, which locate resources by construct path.
  const cliContext = {
    "aws:cdk:enable-path-metadata": true,
    "aws:cdk:enable-asset-metadata": true,
    ...context,
  };
  const { app, stack } = buildKilnApp({
    outdir,
    context: bundling ? cliContext : { ...cliContext, "aws:cdk:bundling-stacks": [] },
  });
  const assembly = app.synth();
  const json = assembly.getStackByName(stack.stackName).template;
  const reportFile = join(assembly.directory, "validation-report.json");
  return {
    app,
    stack,
    json,
    template: Template.fromJSON(json),
    assemblyDir: assembly.directory,
    report: existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, "utf8")) : undefined,
    dispose: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Apps a test file builds without synthesizing, and the scratch directory their assemblies go to. */
export interface ScratchApps {
  /** A new App whose cloud assembly goes to a fresh directory under the scratch directory. */
  readonly app: (props?: AppProps) => App;
  /** A fresh directory under the scratch directory, for an App's `outdir`. */
  readonly outdir: () => string;
  /** Removes the scratch directory and everything the apps wrote there. */
  readonly dispose: () => void;
}

/**
 * An App given no `outdir` makes a `cdk.out*` directory in the system temp dir (constructs stage assets
 * there even without a synth) and the test run leaves it behind; these apps write under one scratch
 * directory instead, which `dispose` removes.
 */
export function scratchApps(): ScratchApps {
  let root: string | undefined;
  const outdir = () => {
    root ??= mkdtempSync(join(tmpdir(), "kiln-infra-"));
    return mkdtempSync(join(root, "app-"));
  };
  return {
    outdir,
    app: (props = {}) => new App({ ...props, outdir: outdir() }),
    dispose: () => {
      if (root) rmSync(root, { recursive: true, force: true });
      root = undefined;
    },
  };
}

/** `<severity> <rule>` of every entry of the validation report: cdk-nag findings and construct annotations. */
export function reportEntries(synth: Synthesized): string[] {
  return (synth.report?.pluginReports ?? [])
    .flatMap((r: Cfn) => r.violations ?? [])
    .map((v: Cfn) => `${v.severity} ${v.ruleName}`);
}

/**
 * The report's entries but Kiln's own warning that the stack gets no CloudFront alarm, which a stack
 * whose region is not us-east-1 (or not known at synth, as in these tests) is meant to print.
 */
export function reportFindings(synth: Synthesized): string[] {
  return reportEntries(synth).filter((entry) => entry !== `warning Annotation::${NO_CDN_ALARM_WARNING}`);
}

export function resources(json: Cfn, type: string): CfnResource[] {
  return Object.entries(json.Resources as Record<string, Cfn>)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => ({ id, type: r.Type, properties: r.Properties ?? {}, raw: r }));
}

export function onlyResource(
  json: Cfn,
  type: string,
  predicate: (r: CfnResource) => boolean = () => true,
): CfnResource {
  const found = resources(json, type).filter(predicate);
  if (found.length !== 1) throw new Error(`expected exactly one ${type} matching, found ${found.length}`);
  return found[0] as CfnResource;
}

/** Logical id of the resource a construct path (e.g. `RenderWorker/Worker/Function`) synthesizes to. */
export function logicalIdOf(json: Cfn, constructPath: string, type: string): string {
  const matches = resources(json, type).filter((r) => {
    const path: string | undefined = r.raw.Metadata?.["aws:cdk:path"];
    return (
      path !== undefined &&
      (path.endsWith(`/${constructPath}/Resource`) || path.endsWith(`/${constructPath}`))
    );
  });
  if (matches.length !== 1)
    throw new Error(`expected one ${type} at ${constructPath}, found ${matches.length}`);
  return (matches[0] as CfnResource).id;
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every Allow statement attached to each role, from AWS::IAM::Policy resources and inline role policies. */
export function allowStatementsByRole(json: Cfn): Map<string, Cfn[]> {
  const byRole = new Map<string, Cfn[]>();
  const add = (roleId: string, statements: Cfn[]) => {
    const allows = statements.filter((s) => s.Effect === "Allow");
    byRole.set(roleId, [...(byRole.get(roleId) ?? []), ...allows]);
  };
  for (const policy of resources(json, "AWS::IAM::Policy")) {
    for (const role of asArray(policy.properties.Roles))
      add((role as Cfn).Ref, policy.properties.PolicyDocument.Statement);
  }
  for (const role of resources(json, "AWS::IAM::Role")) {
    for (const inline of asArray(role.properties.Policies))
      add(role.id, (inline as Cfn).PolicyDocument.Statement);
    if (!byRole.has(role.id)) byRole.set(role.id, []);
  }
  return byRole;
}

export function actionsOf(statement: Cfn): string[] {
  return asArray<string>(statement.Action);
}

/** Whether an IAM action pattern (`s3:*`, `*`, `secretsmanager:Get*`) matches `action`. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
  return re.test(action);
}
