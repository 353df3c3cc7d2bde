import { describe, expect, it } from "vitest";
import { parseFaults } from "../../functions/local/fault-injection.js";
import { type HarnessReport, runHarness } from "./harness.js";

/**
 * N jobs through the local stack while workers are killed at any of their steps, Chromium is
 * crashed, 10% of DynamoDB, S3 and SQS calls fail, 2% of DynamoDB and S3 requests are throttled on the
 * wire, and the stand-ins' process is SIGKILLed once mid-run. Parameters: KILN_FAULT_JOBS (default
 * 500) and KILN_FAULTS.
 */
const JOBS = Number(process.env.KILN_FAULT_JOBS ?? 500);
const FAULT_TEXT =
  process.env.KILN_FAULTS ?? "kill=0.005,killAt=any,crash=0.03,store=0.1,throttle=0.02,seed=20261121";
const FAULTS = parseFaults(FAULT_TEXT);

const COMMON = {
  clientConcurrency: 12,
  webhookShare: 0.2,
  receiverFailureShare: 0.2,
  invalidShare: 0.05,
  replayEvery: 10,
} as const;

function print(title: string, started: number, report: HarnessReport) {
  const { problems, ...figures } = report;
  process.stdout.write(
    `\n${title}, ${((Date.now() - started) / 1000).toFixed(1)} s\n${JSON.stringify(figures, null, 2)}\n`,
  );
}

/** What every run must show: each job accepted once, terminal, with at most one output, and told. */
function expectEveryPromiseKept(report: HarnessReport, jobs: number) {
  expect(report.problems.slice(0, 20)).toEqual([]);
  expect(report.notAccepted).toBe(0);
  expect(report.lost).toBe(0);
  expect(report.stuck).toBe(0);
  expect(report.unnamedFailures).toBe(0);
  expect(report.duplicated).toBe(0);
  expect(report.succeeded + report.failed).toBe(jobs);
  // The invalid templates fail for their own reason.
  expect(report.failuresByCode.template_error).toBe(Math.floor(jobs / 20));
  expect(report.webhooks.unsettled).toBe(0);
  expect(report.webhooks.delivered + report.webhooks.givenUp).toBe(report.webhooks.expected);
}

describe("nothing lost under faults", () => {
  it(`${JOBS} jobs: each ends once, terminal, with at most one output, and the caller is told`, {
    timeout: 900_000,
  }, async () => {
    const started = Date.now();
    // One SIGKILL of the stand-ins, past the middle of the renders.
    const standInKillEvery = Math.max(1, Math.round(JOBS * 0.6));
    const report = await runHarness({
      jobs: JOBS,
      ...(FAULTS ? { faults: FAULTS } : {}),
      standInKillEvery,
      ...COMMON,
      timeoutMs: 600_000,
    });
    print(
      `fault run: ${JOBS} jobs, faults ${FAULT_TEXT}, stand-ins killed every ${standInKillEvery} renders`,
      started,
      report,
    );
    expectEveryPromiseKept(report, JOBS);
    expect(report.standInKills).toBeGreaterThanOrEqual(1);
    // The run really was under faults, the kills at more steps than mid-render.
    if (FAULTS) {
      expect(report.faultCounts?.kills).toBeGreaterThan(0);
      expect(Object.keys(report.faultCounts?.killsByStep ?? {}).length).toBeGreaterThan(1);
      expect(report.faultCounts?.crashes).toBeGreaterThan(0);
      expect(report.faultCounts?.storeFailures).toBeGreaterThan(0);
      expect(report.faultCounts?.throttled).toBeGreaterThan(0);
    }
  });

  it("heavy throttling: a third of DynamoDB and S3 requests throttled, every job still ends", {
    timeout: 600_000,
  }, async () => {
    const started = Date.now();
    const jobs = 20;
    const faults = parseFaults("throttle=0.33,seed=20261207");
    const report = await runHarness({ jobs, ...(faults ? { faults } : {}), ...COMMON, timeoutMs: 300_000 });
    print(`throttled run: ${jobs} jobs, throttle=0.33`, started, report);
    expectEveryPromiseKept(report, jobs);
    // Throttling slows jobs down; it fails none that could render.
    expect(report.succeeded).toBe(jobs - Math.floor(jobs / 20));
    expect(report.faultCounts?.throttled).toBeGreaterThan(jobs);
  });
});
