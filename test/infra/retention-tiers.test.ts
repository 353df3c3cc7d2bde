import { afterAll, describe, expect, it } from "vitest";
import { ENV } from "../../functions/core/constants.js";
import { CONTEXT_KEYS, kilnPropsFromContext } from "../../lib/app.js";
import { type Cfn, logicalIdOf, resources, type Synthesized, synthKiln } from "./support.js";

/** Retention of tenants' data and usage plans per tier, from `--context` (docs/deploy.md). */

const synths: Synthesized[] = [];
afterAll(() => {
  for (const s of synths) s.dispose();
});
const synth = (context: Record<string, unknown>) => {
  const s = synthKiln(context, { bundling: false });
  synths.push(s);
  return s.json as Cfn;
};

const bucket = (json: Cfn, path: string) =>
  json.Resources[logicalIdOf(json, path, "AWS::S3::Bucket")].Properties;
const rules = (json: Cfn, path: string): Cfn[] => bucket(json, path).LifecycleConfiguration?.Rules ?? [];
const expirations = (json: Cfn, path: string) =>
  rules(json, path)
    .filter((r) => r.ExpirationInDays !== undefined)
    .map((r) => ({ prefix: r.Prefix, days: r.ExpirationInDays }));
const variables = (json: Cfn, path: string) =>
  json.Resources[logicalIdOf(json, `${path}/Function`, "AWS::Lambda::Function")].Properties.Environment
    .Variables;
const plans = (json: Cfn) =>
  resources(json, "AWS::ApiGateway::UsagePlan").map((r) => ({
    id: r.id,
    throttle: r.properties.Throttle,
    quota: r.properties.Quota,
  }));

describe("defaults: today's retention and one usage plan", () => {
  const json = synth({});

  it("keeps jobs, requests and outputs 30 days, and template versions and assets for good", () => {
    expect(variables(json, "Api/ApiFunction")[ENV.jobRetentionDays]).toBe("30");
    expect(variables(json, "Batches/FanOut")[ENV.jobRetentionDays]).toBe("30");
    // Render-cache entries last the job retention after their output's PUT: never past the output.
    expect(variables(json, "RenderWorker/Worker")[ENV.jobRetentionDays]).toBe("30");
    expect(expirations(json, "Buckets/Outputs")).toEqual([{ prefix: "outputs/", days: 30 }]);
    expect(expirations(json, "Payloads/Bucket")).toEqual([{ prefix: "requests/", days: 30 }]);
    expect(expirations(json, "Buckets/Assets")).toEqual([]);
    expect(bucket(json, "Buckets/Templates").LifecycleConfiguration).toBeUndefined();
    expect(bucket(json, "Buckets/Templates").VersioningConfiguration).toEqual({ Status: "Enabled" });
  });

  it("has the one plan it always had (same logical id), 10 rps and a burst of 20, and names it by tier", () => {
    expect(plans(json)).toEqual([
      {
        id: expect.stringMatching(/^ApiTenantPlan/),
        throttle: { RateLimit: 10, BurstLimit: 20 },
        quota: undefined,
      },
    ]);
    const [plan] = plans(json);
    expect(JSON.stringify(json.Outputs.UsagePlanIds.Value)).toContain('{\\"standard\\":\\"');
    expect(JSON.stringify(json.Outputs.UsagePlanIds.Value)).toContain(plan?.id);
  });
});

describe("retention and tiers from context", () => {
  const json = synth({
    [CONTEXT_KEYS.jobRetentionDays]: "90",
    [CONTEXT_KEYS.payloadRetentionDays]: "120",
    [CONTEXT_KEYS.templateVersionRetentionDays]: "7",
    [CONTEXT_KEYS.assetsExpirationDays]: "365",
    [CONTEXT_KEYS.tiers]: JSON.stringify({
      standard: { rateLimit: 10, burst: 20 },
      gold: { rateLimit: 50, burst: 100, quota: 100000 },
    }),
  });

  it("gives the functions that create jobs or cache entries the job retention, and keeps outputs at least as long", () => {
    expect(variables(json, "Api/ApiFunction")[ENV.jobRetentionDays]).toBe("90");
    expect(variables(json, "Batches/FanOut")[ENV.jobRetentionDays]).toBe("90");
    expect(variables(json, "RenderWorker/Worker")[ENV.jobRetentionDays]).toBe("90");
    expect(expirations(json, "Buckets/Outputs")).toEqual([{ prefix: "outputs/", days: 90 }]);
    expect(expirations(json, "Payloads/Bucket")).toEqual([{ prefix: "requests/", days: 120 }]);
  });

  it("expires old template object versions and assets when asked to", () => {
    expect(rules(json, "Buckets/Templates")).toEqual([
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 7 }, Status: "Enabled" }),
    ]);
    expect(expirations(json, "Buckets/Assets")).toEqual([{ prefix: "assets/", days: 365 }]);
  });

  it("makes one usage plan per tier, with its throttle and quota", () => {
    expect(plans(json)).toEqual([
      {
        id: expect.stringMatching(/^ApiTenantPlan/),
        throttle: { RateLimit: 10, BurstLimit: 20 },
        quota: undefined,
      },
      {
        id: expect.stringMatching(/^ApiTierPlangold/),
        throttle: { RateLimit: 50, BurstLimit: 100 },
        quota: { Limit: 100000, Period: "DAY" },
      },
    ]);
    expect(JSON.stringify(json.Outputs.UsagePlanIds.Value)).toContain('\\"gold\\":\\"');
  });
});

describe("context validation names the key", () => {
  const props = (context: Record<string, unknown>) => () => kilnPropsFromContext((k) => context[k]);

  it.each([
    [{ jobRetentionDays: "0" }, "--context jobRetentionDays must be a whole number of days from 1"],
    [{ jobRetentionDays: "2.5" }, "--context jobRetentionDays"],
    [
      { jobRetentionDays: "60", payloadRetentionDays: "30" },
      "--context payloadRetentionDays must be a whole number of days from 60 (the jobRetentionDays",
    ],
    [
      { outputsExpirationDays: "10" },
      "--context outputsExpirationDays must be a whole number of days from 30",
    ],
    [{ templateVersionRetentionDays: "x" }, "--context templateVersionRetentionDays must be a number"],
    [{ assetsExpirationDays: "-1" }, "--context assetsExpirationDays"],
    [{ tiers: "{" }, "--context tiers must be JSON"],
    [{ tiers: '{"gold":{"rateLimit":5}}' }, "--context tiers.gold.burst"],
  ])("refuses %o", (context, message) => {
    expect(props(context)).toThrow(message);
  });

  it("refuses a tier faster than the whole stage", () => {
    expect(() =>
      synthKiln({ tiers: '{"huge":{"rateLimit":500,"burst":1000}}' }, { bundling: false }),
    ).toThrow("api tier huge: rateLimit (500) must not exceed api.stageThrottle.rateLimit (100)");
  });
});
