/**
 * `npm run load [-- --jobs N] [-- --clients C]`: drives N jobs (default 10,000) through an in-process
 * local stack and prints submitted / succeeded / failed / lost / duplicated and the throughput.
 * KILN_FAULTS adds injected faults, as in the fault test. Not part of CI: it takes minutes.
 */
import { parseArgs } from "node:util";
import { parseFaults } from "../../functions/local/fault-injection.js";
import { runHarness } from "../faults/harness.js";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: process.env.KILN_LOAD_JOBS ?? "10000" },
    clients: { type: "string", default: "32" },
    webhooks: { type: "string", default: "0.1" },
  },
});
const jobs = Number(values.jobs);
const clients = Number(values.clients);
if (!Number.isInteger(jobs) || jobs < 1 || !Number.isInteger(clients) || clients < 1) {
  process.stderr.write("usage: npm run load -- [--jobs N] [--clients C] [--webhooks SHARE]\n");
  process.exit(2);
}
const faults = parseFaults(process.env.KILN_FAULTS);
const started = Date.now();
const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);

log(
  `driving ${jobs} jobs with ${clients} clients${faults ? ` under faults ${process.env.KILN_FAULTS}` : ""}`,
);
const report = await runHarness({
  jobs,
  ...(faults ? { faults } : {}),
  clientConcurrency: clients,
  webhookShare: Number(values.webhooks),
  receiverFailureShare: 0,
  invalidShare: 0,
  replayEvery: 0,
  timeoutMs: Math.max(600_000, jobs * 300),
  stack: { visibilityTimeoutSeconds: 30, batchSize: 10, workerConcurrency: 2 },
  log,
});

const { problems, ...rest } = report;
const perHour = Math.round(report.throughputPerSecond * 3600);
process.stdout.write(
  [
    "",
    `submitted   ${report.submitted}`,
    `succeeded   ${report.succeeded}`,
    `failed      ${report.failed}${report.failed ? ` ${JSON.stringify(report.failuresByCode)}` : ""}`,
    `lost        ${report.lost + report.notAccepted}`,
    `duplicated  ${report.duplicated}`,
    `throughput  ${report.throughputPerSecond.toFixed(1)} jobs/s (${perHour} jobs/h) over ${(report.durationMs / 1000).toFixed(1)} s`,
    `renders     ${report.renders} (${report.jobsRenderedMoreThanOnce} jobs rendered more than once)`,
    `webhooks    ${report.webhooks.delivered}/${report.webhooks.expected} delivered`,
    ...(problems.length
      ? [`problems    ${problems.length}:`, ...problems.slice(0, 20).map((p) => `  ${p}`)]
      : []),
    "",
  ].join("\n"),
);
process.stderr.write(`${JSON.stringify(rest)}\n`);
process.exit(problems.length === 0 ? 0 : 1);
