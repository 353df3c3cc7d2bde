import * as fs from "node:fs";
import * as path from "node:path";
import { App, type AppProps, Duration, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { JOB_RETENTION_DAYS } from "../functions/core/constants.js";
import { parseTiers } from "../functions/core/tenants.js";
import { REPO_ROOT } from "./handler-entries.js";
import { KilnStack, type KilnStackProps } from "./kiln-stack.js";
import { STACK_OPTION_KEYS, stackOptionsFromContext } from "./stack-options.js";
import { parseStageName } from "./stage.js";

/** Context keys `cdk synth|deploy --context key=value` understands. */
export const CONTEXT_KEYS = {
  stage: "stage",
  alarmEmail: "alarmEmail",
  workerMemorySize: "workerMemorySize",
  workerTimeoutSeconds: "workerTimeoutSeconds",
  workerMaxConcurrency: "workerMaxConcurrency",
  workerReservedConcurrency: "workerReservedConcurrency",
  apiCloudWatchRole: "apiCloudWatchRole",
  accountConcurrency: "accountConcurrency",
  // Platform options (lib/stack-options.ts, docs/deploy.md): kmsKey, kmsKeyArn, vpc, vpcId,
  // apiDomainName, apiCertificateArn, cdnDomainName, cdnCertificateArn, apiWebAclArn, cdnWebAclArn, tags.
  ...STACK_OPTION_KEYS,
  // Retention and tiers (docs/deploy.md, "Retention" and "Tenants, keys and tiers").
  jobRetentionDays: "jobRetentionDays",
  payloadRetentionDays: "payloadRetentionDays",
  outputsExpirationDays: "outputsExpirationDays",
  templateVersionRetentionDays: "templateVersionRetentionDays",
  assetsExpirationDays: "assetsExpirationDays",
  tiers: "tiers",
} as const;

type ContextReader = (key: string) => unknown;

function optionalNumber(read: ContextReader, key: string): number | undefined {
  const raw = read(key);
  if (raw === undefined) return undefined;
  const value = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isFinite(value))
    throw new Error(`--context ${key} must be a number; got ${JSON.stringify(raw)}.`);
  return value;
}

function optionalBoolean(read: ContextReader, key: string): boolean | undefined {
  const raw = read(key);
  if (raw === undefined || typeof raw === "boolean") return raw;
  if (raw === "true" || raw === "false") return raw === "true";
  throw new Error(`--context ${key} must be true or false; got ${JSON.stringify(raw)}.`);
}

/** Whole days of at least `min` (named in the sentence as `minWhat`), or undefined when the key is unset. */
function optionalDays(read: ContextReader, key: string, min = 1, minWhat = ""): number | undefined {
  const days = optionalNumber(read, key);
  if (days !== undefined && (!Number.isInteger(days) || days < min || days > 3650)) {
    throw new Error(
      `--context ${key} must be a whole number of days from ${min}${minWhat} to 3650; got ${days}.`,
    );
  }
  return days;
}

/** Retention props from context; what is kept at least as long as jobs is checked against jobRetentionDays. */
function retentionFromContext(read: ContextReader) {
  const jobsDays = optionalDays(read, CONTEXT_KEYS.jobRetentionDays);
  const floor = jobsDays ?? JOB_RETENTION_DAYS;
  const atLeastJobs = ` (the ${CONTEXT_KEYS.jobRetentionDays}, so no job loses it)`;
  return {
    outputsExpirationDays: optionalDays(read, CONTEXT_KEYS.outputsExpirationDays, floor, atLeastJobs),
    retention: {
      jobsDays,
      payloadsDays: optionalDays(read, CONTEXT_KEYS.payloadRetentionDays, floor, atLeastJobs),
      templateObjectVersionsDays: optionalDays(read, CONTEXT_KEYS.templateVersionRetentionDays),
      assetsDays: optionalDays(read, CONTEXT_KEYS.assetsExpirationDays),
    },
  };
}

/** Stack props from CDK context (values given on the command line arrive as strings). */
export function kilnPropsFromContext(read: ContextReader): KilnStackProps {
  const alarmEmail = read(CONTEXT_KEYS.alarmEmail);
  if (alarmEmail !== undefined && typeof alarmEmail !== "string") {
    throw new Error(`--context ${CONTEXT_KEYS.alarmEmail} must be an email address.`);
  }
  const timeoutSeconds = optionalNumber(read, CONTEXT_KEYS.workerTimeoutSeconds);
  const tiers = read(CONTEXT_KEYS.tiers);
  return {
    ...retentionFromContext(read),
    stage: parseStageName(read(CONTEXT_KEYS.stage)),
    alarmEmail,
    accountConcurrency: optionalNumber(read, CONTEXT_KEYS.accountConcurrency),
    renderWorker: {
      memorySize: optionalNumber(read, CONTEXT_KEYS.workerMemorySize),
      timeout: timeoutSeconds === undefined ? undefined : Duration.seconds(timeoutSeconds),
      maxConcurrency: optionalNumber(read, CONTEXT_KEYS.workerMaxConcurrency),
      reservedConcurrency: optionalNumber(read, CONTEXT_KEYS.workerReservedConcurrency),
    },
    ...stackOptionsFromContext(read),
    api: {
      cloudWatchRole: optionalBoolean(read, CONTEXT_KEYS.apiCloudWatchRole),
      ...(tiers === undefined ? {} : { tiers: parseTiers(tiers, `--context ${CONTEXT_KEYS.tiers}`) }),
    },
  };
}

/**
 * The Kiln CDK app: one stack per stage (`Kiln-dev`, `Kiln-prod`), checked by cdk-nag's AWS Solutions
 * rules during synth. Deploys to the account and region of the CLI's credentials when known.
 */
export function buildKilnApp(appProps: AppProps = {}): { app: App; stack: KilnStack } {
  const app = new App({ ...appProps, context: { ...cdkJsonContext(), ...appProps.context } });
  const props = kilnPropsFromContext((key) => app.node.tryGetContext(key));
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION;
  const stack = new KilnStack(app, `Kiln-${props.stage}`, {
    ...props,
    env: account && region ? { account, region } : undefined,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/**
 * The context (feature flags) in cdk.json. The CLI passes it to the app anyway; reading it here as well
 * makes an app built in a test synthesize exactly what `cdk synth` does.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const file = path.join(REPO_ROOT, "cdk.json");
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}
