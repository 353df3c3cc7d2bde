import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV, RECONCILER_SCHEDULE } from "../../functions/core/constants.js";
import { METRICS, SERVICES } from "../../functions/core/observability.js";
import {
  actionsOf,
  allowStatementsByRole,
  asArray,
  type Cfn,
  logicalIdOf,
  resources,
  type Synthesized,
  synthKiln,
} from "./support.js";

let synth: Synthesized;
let json: Cfn;
beforeAll(() => {
  synth = synthKiln({ stage: "dev" }, { bundling: false });
  json = synth.json;
});
afterAll(() => synth?.dispose());

const fnId = () => logicalIdOf(json, "Reconciler/Function/Function", "AWS::Lambda::Function");

describe("the reconciler", () => {
  it("runs on an EventBridge schedule, one run at a time", () => {
    const rules = resources(json, "AWS::Events::Rule");
    const rule = rules.find((r) =>
      asArray(r.properties.Targets).some((t: Cfn) => JSON.stringify(t.Arn).includes(fnId())),
    );
    expect(rule?.properties.ScheduleExpression).toBe(`rate(${RECONCILER_SCHEDULE.everyMinutes} minutes)`);
    expect(rule?.properties.Targets[0].RetryPolicy).toEqual({ MaximumRetryAttempts: 0 });
    const permissions = resources(json, "AWS::Lambda::Permission").filter(
      (p) => p.properties.Principal === "events.amazonaws.com",
    );
    expect(permissions.map((p) => p.properties.FunctionName)).toContainEqual({
      "Fn::GetAtt": [fnId(), "Arn"],
    });
    expect(json.Resources[fnId()].Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it("derives its deadlines from the render queue and the worker's timeout", () => {
    const vars = json.Resources[fnId()].Properties.Environment.Variables;
    const queue = json.Resources[logicalIdOf(json, "RenderQueue/Queue", "AWS::SQS::Queue")].Properties;
    const deadLetters = queue.RedrivePolicy.maxReceiveCount;
    // maxReceiveCount × (visibility timeout + the worker's longest backoff, 300 s).
    expect(vars[ENV.reconcileStuckAfterSeconds]).toBe(String(deadLetters * (queue.VisibilityTimeout + 300)));
    expect(vars[ENV.reconcileFinalDeliveryGraceSeconds]).toBe("60");
  });

  it("may only query, read and update the jobs table, send to the render and webhook queues, and count the render queue's backlog", () => {
    const role = logicalIdOf(json, "Reconciler/Function/Role", "AWS::IAM::Role");
    const actions = (allowStatementsByRole(json).get(role) ?? []).flatMap(actionsOf);
    const ours = actions.filter((a: string) => !a.startsWith("logs:") && !a.startsWith("xray:"));
    expect([...new Set(ours)].sort()).toEqual(
      [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
      ].sort(),
    );
  });

  it("alarms on the Monitoring topic whenever a run acts", () => {
    const alarm = resources(json, "AWS::CloudWatch::Alarm").find(
      (a) => a.properties.MetricName === METRICS.reconciledJobs,
    );
    expect(alarm?.properties).toMatchObject({
      AlarmName: "kiln-dev-reconciler-acted",
      Namespace: METRICS.namespace,
      Dimensions: [{ Name: METRICS.serviceDimension, Value: SERVICES.reconciler }],
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
    const topic = logicalIdOf(json, "Monitoring/AlarmTopic", "AWS::SNS::Topic");
    expect(alarm?.properties.AlarmActions).toEqual([{ Ref: topic }]);
    expect(alarm?.properties.OKActions).toEqual([{ Ref: topic }]);
  });

  it("leaves cdk-nag clean", () => {
    expect(new AwsSolutionsChecks(synth.app).validateScope(synth.app).violations).toEqual([]);
  });
});
