import { describe, expect, it } from "vitest";
import { parseFaults } from "../../functions/local/fault-injection.js";
import { runHarness } from "./harness.js";

/**
 * N jobs through the local stack while workers are killed mid-render, Chromium is crashed and 10% of
 * DynamoDB, S3 and SQS calls fail. Parameters: KILN_FAULT_JOBS (default 500) and KILN_FAULTS.
 */
const JOBS = Number(process.env.KILN_FAULT_JOBS ?? 500);
const FAULTS = parseFaults(process.env.KILN_FAULTS ?? "kill=0.03,crash=0.03,store=0.1,seed=20261121");

describe("nothing lost under faults", () => {
  it(`${JOBS} jobs: each ends once, terminal, with at most one output, and the caller is told`, {
    timeout: 900_000,
  }, async () => {
    const started = Date.now();
    const report = await runHarness({
      jobs: JOBS,
      ...(FAULTS ? { faults: FAULTS } : {}),
      clientConcurrency: 12,
      webhookShare: 0.2,
      receiverFailureShare: 0.2,
      invalidShare: 0.05,
      replayEvery: 10,
      timeoutMs: 600_000,
    });
    const { problems, ...figures } = report;
    process.stdout.write(
      `\nfault run: ${JOBS} jobs, faults ${process.env.KILN_FAULTS ?? "kill=0.03,crash=0.03,store=0.1,seed=20261121"}, ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s\n${JSON.stringify(figures, null, 2)}\n`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    expect(report.notAccepted).toBe(0);
    expect(report.lost).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.succeeded + report.failed).toBe(JOBS);
    // The invalid templates fail for their own reason; the faults must not fail many valid jobs.
    expect(report.failuresByCode.template_error).toBe(Math.floor(JOBS / 20));
    // The run really was under faults.
    if (FAULTS) {
      expect(report.faultCounts?.kills).toBeGreaterThan(0);
      expect(report.faultCounts?.crashes).toBeGreaterThan(0);
      expect(report.faultCounts?.storeFailures).toBeGreaterThan(0);
    }
    expect(report.webhooks.unsettled).toBe(0);
    expect(report.webhooks.delivered + report.webhooks.givenUp).toBe(report.webhooks.expected);
  });
});
