import { Duration } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BATCH_JOBS_INDEX, OPEN_JOBS_INDEX, WEBHOOK_QUEUE } from "../../functions/core/constants.js";
import { FUNCTION_DEFINITIONS } from "../../functions/handlers/definitions.js";
import { NO_CDN_ALARM_WARNING } from "../../lib/constructs/monitoring.js";
import { KilnStack, type KilnStackProps } from "../../lib/kiln-stack.js";
import {
  type Cfn,
  logicalIdOf,
  onlyResource,
  reportEntries,
  reportFindings,
  resources,
  type Synthesized,
  scratchApps,
  synthKiln,
} from "./support.js";

/** Every alarm of a dev stack, by name; the CloudFront one only where its metrics are (us-east-1). */
const EXPECTED = [
  "kiln-dev-render-dead-letters",
  "kiln-dev-render-queue-age",
  "kiln-dev-render-duration-p95",
  "kiln-dev-render-worker-errors",
  "kiln-dev-render-worker-throttles",
  "kiln-dev-api-5xx",
  "kiln-dev-api-errors",
  "kiln-dev-api-throttles",
  "kiln-dev-sign-assets-errors",
  "kiln-dev-sign-assets-throttles",
  "kiln-dev-webhook-dispatcher-errors",
  "kiln-dev-webhook-dispatcher-throttles",
  "kiln-dev-webhook-dead-letters",
  "kiln-dev-webhook-queue-age",
  "kiln-dev-batch-fanout-errors",
  "kiln-dev-batch-fanout-throttles",
  "kiln-dev-batch-dead-letters",
  "kiln-dev-reconciler-errors",
  "kiln-dev-reconciler-throttles",
  "kiln-dev-reconciler-acted",
  "kiln-dev-jobs-table-read-throttles",
  "kiln-dev-jobs-table-write-throttles",
];
const CDN_ALARM = "kiln-dev-cdn-5xx-rate";

/** Synthesizes with CDK_DEFAULT_ACCOUNT/REGION set as the CLI sets them from the caller's credentials. */
function synthIn(region: string | undefined): Synthesized {
  const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  const set = (key: string, value: string | undefined) => {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  };
  set("CDK_DEFAULT_ACCOUNT", region ? "123456789012" : undefined);
  set("CDK_DEFAULT_REGION", region);
  try {
    return synthKiln({ stage: "dev" }, { bundling: false });
  } finally {
    set("CDK_DEFAULT_ACCOUNT", saved.account);
    set("CDK_DEFAULT_REGION", saved.region);
  }
}

const alarmsOf = (json: Cfn) => resources(json, "AWS::CloudWatch::Alarm");
const alarmNamed = (json: Cfn, name: string) => {
  const found = alarmsOf(json).find((a) => a.properties.AlarmName === name);
  if (!found) throw new Error(`no alarm named ${name}`);
  return found;
};
const dashboardBody = (json: Cfn) =>
  JSON.stringify(onlyResource(json, "AWS::CloudWatch::Dashboard").properties.DashboardBody);

// Region not known at synth (no credentials): the case of the other infra tests.
let agnostic: Synthesized;
let useast1: Synthesized;
beforeAll(() => {
  agnostic = synthIn(undefined);
  useast1 = synthIn("us-east-1");
});
afterAll(() => {
  agnostic?.dispose();
  useast1?.dispose();
});

describe("alarms", () => {
  it("are exactly the expected ones, each with its stable name", () => {
    const names = (json: Cfn) => alarmsOf(json).map((a) => a.properties.AlarmName as string);
    expect(names(agnostic.json).sort()).toEqual([...EXPECTED].sort());
    expect(names(useast1.json).sort()).toEqual([...EXPECTED, CDN_ALARM].sort());
  });

  it("each notify the alarm topic when they fire and when they clear, and are on the dashboard", () => {
    for (const synth of [agnostic, useast1]) {
      const topic = { Ref: onlyResource(synth.json, "AWS::SNS::Topic").id };
      const body = dashboardBody(synth.json);
      for (const alarm of alarmsOf(synth.json)) {
        const name = alarm.properties.AlarmName;
        expect(alarm.properties.AlarmActions, name).toEqual([topic]);
        expect(alarm.properties.OKActions, name).toEqual([topic]);
        expect(body, name).toContain(JSON.stringify({ "Fn::GetAtt": [alarm.id, "Arn"] }));
      }
    }
  });

  it("tell the operator where to look in AWS, never a command of the local stack", () => {
    for (const alarm of alarmsOf(useast1.json)) {
      const description = JSON.stringify(alarm.properties.AlarmDescription);
      const name = alarm.properties.AlarmName;
      expect(description, name).toMatch(/console|CloudWatch Logs Insights|Service Quotas|aws sqs/);
      expect(description, name).not.toMatch(/--queue |--data-dir|npm (run|start)|\.kiln|127\.0\.0\.1/);
    }
  });

  it("watch the errors and throttles of every Kiln function", () => {
    // One per function definition; the signing-key provider runs only during a deploy, which reports its failure.
    const names = Object.values(FUNCTION_DEFINITIONS).map((d) => `kiln-dev-${d.name}`);
    const functions = resources(agnostic.json, "AWS::Lambda::Function").filter((f) =>
      names.includes(f.properties.FunctionName),
    );
    expect(functions).toHaveLength(names.length);
    for (const fn of functions) {
      for (const [suffix, metric] of [
        ["errors", "Errors"],
        ["throttles", "Throttles"],
      ] as const) {
        const alarm = alarmNamed(agnostic.json, `${fn.properties.FunctionName}-${suffix}`).properties;
        expect(alarm).toMatchObject({ Namespace: "AWS/Lambda", MetricName: metric, Threshold: 1 });
        expect(alarm.Dimensions).toEqual([{ Name: "FunctionName", Value: { Ref: fn.id } }]);
      }
    }
  });

  it("watch read and write throttle events of the jobs table and each of its indexes", () => {
    const table = { Ref: logicalIdOf(agnostic.json, "Jobs/Table", "AWS::DynamoDB::Table") };
    for (const [name, metricName] of [
      ["kiln-dev-jobs-table-read-throttles", "ReadThrottleEvents"],
      ["kiln-dev-jobs-table-write-throttles", "WriteThrottleEvents"],
    ] as const) {
      const alarm = alarmNamed(agnostic.json, name).properties;
      const metrics = (alarm.Metrics as Cfn[]).filter((m) => m.MetricStat);
      const watched = metrics.map((m) => {
        expect(m.MetricStat.Metric).toMatchObject({ Namespace: "AWS/DynamoDB", MetricName: metricName });
        const dims = m.MetricStat.Metric.Dimensions as Cfn[];
        expect(dims).toContainEqual({ Name: "TableName", Value: table });
        return dims.find((d) => d.Name === "GlobalSecondaryIndexName")?.Value ?? "(table)";
      });
      expect(watched.sort()).toEqual(
        ["(table)", BATCH_JOBS_INDEX.indexName, OPEN_JOBS_INDEX.indexName].sort(),
      );
      const expression = (alarm.Metrics as Cfn[]).find((m) => m.Expression)?.Expression as string;
      for (const m of metrics) expect(expression).toContain(`FILL(${m.Id}, 0)`);
      expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
    }
  });

  it("watch the webhook queue's oldest message beyond a retry's longest delay", () => {
    const alarm = alarmNamed(agnostic.json, "kiln-dev-webhook-queue-age").properties;
    expect(alarm).toMatchObject({ MetricName: "ApproximateAgeOfOldestMessage", Threshold: 1800 });
    expect(alarm.Threshold).toBeGreaterThan(WEBHOOK_QUEUE.maxDelaySeconds);
    expect(alarm.Dimensions).toEqual([
      {
        Name: "QueueName",
        Value: {
          "Fn::GetAtt": [logicalIdOf(agnostic.json, "Webhooks/Queue", "AWS::SQS::Queue"), "QueueName"],
        },
      },
    ]);
  });
});

describe("CloudFront 5xx rate", () => {
  const distributionId = (json: Cfn) => ({
    Ref: logicalIdOf(json, "Cdn/Distribution", "AWS::CloudFront::Distribution"),
  });

  it("alarms in a us-east-1 stack, on the distribution's global rate", () => {
    const alarm = alarmNamed(useast1.json, CDN_ALARM).properties;
    expect(alarm).toMatchObject({
      Namespace: "AWS/CloudFront",
      MetricName: "5xxErrorRate",
      Statistic: "Average",
      Threshold: 5,
      ComparisonOperator: "GreaterThanThreshold",
    });
    expect(alarm.Dimensions).toEqual(
      expect.arrayContaining([
        { Name: "DistributionId", Value: distributionId(useast1.json) },
        { Name: "Region", Value: "Global" },
      ]),
    );
    Annotations.fromStack(useast1.stack).hasNoWarning("*", Match.stringLikeRegexp("CloudFront"));
    expect(reportEntries(useast1)).not.toContain(`warning Annotation::${NO_CDN_ALARM_WARNING}`);
    expect(reportFindings(useast1)).toEqual([]);
  });

  it("elsewhere warns at synth instead, and the dashboard still graphs the rate from us-east-1", () => {
    expect(alarmsOf(agnostic.json).some((a) => a.properties.Namespace === "AWS/CloudFront")).toBe(false);
    Annotations.fromStack(agnostic.stack).hasWarning(
      "/Kiln-dev/Monitoring",
      Match.stringLikeRegexp("No CloudFront 5xx alarm.*us-east-1.*docs/deploy.md"),
    );
    // The validation report names it so, which is how the cdk-nag test tells it from a finding.
    expect(reportEntries(agnostic)).toContain(`warning Annotation::${NO_CDN_ALARM_WARNING}`);
    const body = dashboardBody(agnostic.json);
    expect(body).toContain("5xxErrorRate");
    expect(body).toContain('\\"region\\":\\"us-east-1\\"');
  });
});

describe("monitoring props", () => {
  const apps = scratchApps();
  afterAll(() => apps.dispose());
  const build = (monitoring: KilnStackProps["monitoring"]) =>
    new KilnStack(apps.app({ context: { "aws:cdk:bundling-stacks": [] } }), "Kiln-test", {
      stage: "dev",
      monitoring,
    });

  it("refuses a webhook queue age a retry's delay already reaches, and a CDN rate that is no percentage", () => {
    expect(() => build({ maxWebhookQueueAge: Duration.minutes(15) })).toThrow(
      "maxWebhookQueueAge must be longer than a webhook retry's longest delay (900 s); got 900 s.",
    );
    expect(() => build({ cdn5xxErrorRateThreshold: 0 })).toThrow(
      "cdn5xxErrorRateThreshold must be a percentage above 0 and at most 100; got 0.",
    );
    expect(() => build({ cdn5xxErrorRateThreshold: 101 })).toThrow(/cdn5xxErrorRateThreshold/);
  });
});
