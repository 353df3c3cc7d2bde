import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildKilnApp } from "../../lib/app.js";
import {
  DEFAULT_ACCOUNT_CONCURRENCY,
  LAMBDA_UNRESERVED_MINIMUM,
  planConcurrency,
  RESERVED_CONCURRENCY,
} from "../../lib/concurrency.js";
import { type Cfn, logicalIdOf, resources, type Synthesized, scratchApps, synthKiln } from "./support.js";

const others = { "webhook dispatcher": 5, "batch fan-out": 2 };
const apps = scratchApps();
afterAll(() => apps.dispose());

describe("planConcurrency", () => {
  it("gives the worker what the quota leaves after the reservations, the other queues and AWS's 100", () => {
    const plan = planConcurrency({ accountConcurrency: 1000, otherEventSources: others });
    const reserved = RESERVED_CONCURRENCY.api + RESERVED_CONCURRENCY.signer + RESERVED_CONCURRENCY.reconciler;
    expect(plan.workerMaxConcurrency).toBe(1000 - LAMBDA_UNRESERVED_MINIMUM - reserved - 7);
    expect(plan.kilnMaximum).toBe(reserved + 7 + plan.workerMaxConcurrency);
    expect(plan.leftForTheAccount).toBe(LAMBDA_UNRESERVED_MINIMUM);
    // Never past the SQS event source's limit, however large the quota.
    expect(
      planConcurrency({ accountConcurrency: 5000, otherEventSources: others }).workerMaxConcurrency,
    ).toBe(1000);
  });

  it("keeps an explicit worker maximum when it fits, and says what to lower when it does not", () => {
    const plan = planConcurrency({
      accountConcurrency: 1000,
      workerMaxConcurrency: 10,
      otherEventSources: others,
    });
    expect(plan.workerMaxConcurrency).toBe(10);
    expect(plan.leftForTheAccount).toBe(1000 - 101 - 7 - 10);
    expect(() =>
      planConcurrency({ accountConcurrency: 400, workerMaxConcurrency: 300, otherEventSources: others }),
    ).toThrow(/needs 508 concurrent executions.*lower --context workerMaxConcurrency to at most 192\./);
    expect(() =>
      planConcurrency({ accountConcurrency: 400, workerReservedConcurrency: 250, otherEventSources: others }),
    ).toThrow(/workerMaxConcurrency and workerReservedConcurrency to at most 192\./);
  });

  it("refuses a quota too small for the reservations, with a sentence that says what to set", () => {
    expect(() => planConcurrency({ accountConcurrency: 10, otherEventSources: others })).toThrow(
      'accountConcurrency 10 is too small for Kiln: it needs 210 concurrent executions (api 50, signer 50 and reconciler 1 reserved, webhook dispatcher up to 5, batch fan-out up to 2, the render worker at least 2, and the 100 AWS keeps unreserved). Set --context accountConcurrency to this account\'s Lambda "Concurrent executions" quota (Service Quotas; ask for an increase if it is below 210).',
    );
    expect(() => planConcurrency({ accountConcurrency: 209, otherEventSources: others })).toThrow(
      /needs 210/,
    );
    expect(planConcurrency({ accountConcurrency: 210, otherEventSources: others }).workerMaxConcurrency).toBe(
      2,
    );
    expect(() => planConcurrency({ accountConcurrency: 12.5, otherEventSources: others })).toThrow(
      /accountConcurrency must be a whole number/,
    );
  });
});

describe("--context accountConcurrency", () => {
  const noBundling = { "aws:cdk:bundling-stacks": [] };

  it("fails the synth of an account too small for Kiln, naming what to set", () => {
    expect(() =>
      buildKilnApp({ outdir: apps.outdir(), context: { accountConcurrency: "10", ...noBundling } }),
    ).toThrow(/Set --context accountConcurrency to this account's Lambda "Concurrent executions" quota/);
    expect(() =>
      buildKilnApp({ outdir: apps.outdir(), context: { accountConcurrency: "many", ...noBundling } }),
    ).toThrow('--context accountConcurrency must be a number; got "many".');
  });

  describe("at 1000", () => {
    let synth: Synthesized;
    let json: Cfn;
    beforeAll(() => {
      synth = synthKiln({ accountConcurrency: "1000" }, { bundling: false });
      json = synth.json;
    });
    afterAll(() => synth?.dispose());
    const fnAt = (path: string) =>
      json.Resources[logicalIdOf(json, path, "AWS::Lambda::Function")].Properties;

    it("reserves concurrency for the api, the signer and the reconciler, and none for the rest", () => {
      expect(fnAt("Api/ApiFunction/Function").ReservedConcurrentExecutions).toBe(RESERVED_CONCURRENCY.api);
      expect(fnAt("Signer/SignAssets/Function").ReservedConcurrentExecutions).toBe(
        RESERVED_CONCURRENCY.signer,
      );
      expect(fnAt("Reconciler/Function/Function").ReservedConcurrentExecutions).toBe(1);
      expect(fnAt("RenderWorker/Worker/Function").ReservedConcurrentExecutions).toBeUndefined();
    });

    it("caps the queue-fed functions so that every Kiln function at its maximum leaves AWS's 100", () => {
      const reserved = resources(json, "AWS::Lambda::Function")
        .map((f) => f.properties.ReservedConcurrentExecutions ?? 0)
        .reduce((a: number, b: number) => a + b, 0);
      const maxima = resources(json, "AWS::Lambda::EventSourceMapping").map(
        (m) => m.properties.ScalingConfig?.MaximumConcurrency as number,
      );
      expect(maxima.every((n) => Number.isInteger(n) && n >= 2)).toBe(true);
      const total = reserved + maxima.reduce((a, b) => a + b, 0);
      expect(total).toBe(DEFAULT_ACCOUNT_CONCURRENCY - LAMBDA_UNRESERVED_MINIMUM);
      expect(synth.stack.concurrency.workerMaxConcurrency).toBe(1000 - 100 - 101 - 7);
    });

    it("alarms on every function's throttles", () => {
      const throttled = resources(json, "AWS::CloudWatch::Alarm")
        .filter((a) => a.properties.MetricName === "Throttles")
        .map((a) => JSON.stringify(a.properties.Dimensions));
      for (const path of [
        "Api/ApiFunction/Function",
        "Signer/SignAssets/Function",
        "RenderWorker/Worker/Function",
        "Webhooks/Dispatcher/Function",
        "Batches/FanOut/Function",
        "Reconciler/Function/Function",
      ]) {
        const id = logicalIdOf(json, path, "AWS::Lambda::Function");
        expect(
          throttled.some((d) => d.includes(id)),
          path,
        ).toBe(true);
      }
    });
  });
});
