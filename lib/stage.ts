import { RemovalPolicy } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";

export const STAGE_NAMES = ["dev", "prod"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** What a stage decides: how resources are named, and what survives `cdk destroy`. */
export interface StageSettings {
  readonly name: StageName;
  /** Prefix for physical names, e.g. `kiln-dev`. */
  readonly prefix: string;
  /** prod keeps data (table, buckets, secret, logs) when the stack goes; dev cleans up after itself. */
  readonly removalPolicy: RemovalPolicy;
  /** dev empties buckets on delete so that `cdk destroy` succeeds; prod never deletes objects. */
  readonly autoDeleteObjects: boolean;
  readonly logRetention: RetentionDays;
  /** prod tables refuse deletion until someone turns this off on purpose. */
  readonly deletionProtection: boolean;
}

export function isStageName(value: unknown): value is StageName {
  return typeof value === "string" && (STAGE_NAMES as readonly string[]).includes(value);
}

/** Parses the `stage` context value; an absent value means dev. */
export function parseStageName(value: unknown): StageName {
  if (value === undefined) return "dev";
  if (!isStageName(value)) {
    throw new Error(
      `stage must be one of ${STAGE_NAMES.join(", ")} (pass --context stage=dev); got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

export function stageSettings(name: StageName): StageSettings {
  const prod = name === "prod";
  return {
    name,
    prefix: `kiln-${name}`,
    removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    autoDeleteObjects: !prod,
    logRetention: prod ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_WEEK,
    deletionProtection: prod,
  };
}
