/**
 * `npm run load [-- --jobs N] [-- --clients C] [-- --faults]`: drives N jobs (default 10,000) through
 * an in-process local stack and prints submitted / terminal / succeeded / failed by reason / lost /
 * stuck / duplicated outputs, the wall time and the throughput. It exits non-zero unless nothing was
 * lost, stuck or duplicated and every failure has a code and a message.
 *
 * `--faults` turns on every fault at once: the DEFAULT_LOAD_FAULTS mix (workers killed at any step,
 * Chromium crashes, failing store calls, DynamoDB and S3 throttling on the wire), and the stand-ins run
 * in a process of their own that is SIGKILLed and started again every `--stand-in-kill-every` renders.
 * KILN_FAULTS, when set, replaces the mix. Not part of CI: it takes minutes.
 */
import { parseArgs } from "node:util";
import { parseFaults } from "../../functions/local/fault-injection.js";
import { runHarness } from "../faults/harness.js";

/** The mix `--faults` turns on (see docs/operations.md, "Fault tests and load"). */
const DEFAULT_LOAD_FAULTS = "kill=0.002,killAt=any,crash=0.02,store=0.05,throttle=0.05,seed=20261207";
/** Renders between SIGKILLs of the stand-ins under `--faults`; shorter runs get one halfway. */
const DEFAULT_STAND_IN_KILL_EVERY = 2000;

const usage =
  "usage: npm run load -- [--jobs N] [--clients C] [--webhooks SHARE] [--faults] [--stand-in-kill-every RENDERS]\n";
const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: process.env.KILN_LOAD_JOBS ?? "10000" },
    clients: { type: "string", default: "32" },
    webhooks: { type: "string", default: "0.1" },
    faults: { type: "boolean", default: false },
    "stand-in-kill-every": { type: "string" },
  },
});
const jobs = Number(values.jobs);
const clients = Number(values.clients);
const killEvery =
  values["stand-in-kill-every"] !== undefined
    ? Number(values["stand-in-kill-every"])
    : Math.min(DEFAULT_STAND_IN_KILL_EVERY, Math.ceil(jobs / 2));
if (
  !Number.isInteger(jobs) ||
  jobs < 1 ||
  !Number.isInteger(clients) ||
  clients < 1 ||
  !Number.isInteger(killEvery) ||
  killEvery < 1
) {
  process.stderr.write(usage);
  process.exit(2);
}
const faultText = process.env.KILN_FAULTS ?? (values.faults ? DEFAULT_LOAD_FAULTS : undefined);
const faults = parseFaults(faultText);
const started = Date.now();
const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}\n`);

log(
  `driving ${jobs} jobs with ${clients} clients` +
    (faults ? ` under faults ${faultText}` : "") +
    (values.faults ? `, the stand-ins SIGKILLed every ${killEvery} renders` : ""),
);
const report = await runHarness({
  jobs,
  ...(faults ? { faults } : {}),
  ...(values.faults ? { standInKillEvery: killEvery } : {}),
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
const terminal = report.succeeded + report.failed;
const lost = report.lost + report.notAccepted;
const perHour = Math.round(report.throughputPerSecond * 3600);
const byReason = Object.entries(report.failuresByCode)
  .map(([code, n]) => `${code} ${n}`)
  .join(", ");
process.stdout.write(
  [
    "",
    `submitted   ${report.submitted}`,
    `terminal    ${terminal}`,
    `succeeded   ${report.succeeded}`,
    `failed      ${report.failed}${byReason ? ` (${byReason})` : ""}`,
    ...Object.entries(report.failureSamples).map(([code, message]) => `  ${code}: e.g. "${message}"`),
    `unnamed     ${report.unnamedFailures} failures without a code and message`,
    `lost        ${lost}`,
    `stuck       ${report.stuck}`,
    `duplicated  ${report.duplicated} outputs`,
    `wall time   ${((Date.now() - started) / 1000).toFixed(1)} s`,
    `throughput  ${report.throughputPerSecond.toFixed(1)} jobs/s (${perHour} jobs/h) over ${(report.durationMs / 1000).toFixed(1)} s`,
    `renders     ${report.renders} (${report.jobsRenderedMoreThanOnce} jobs rendered more than once)`,
    `webhooks    ${report.webhooks.delivered}/${report.webhooks.expected} delivered`,
    ...(report.faultCounts
      ? [
          `faults      ${report.faultCounts.kills} worker kills ${JSON.stringify(report.faultCounts.killsByStep)}, ` +
            `${report.faultCounts.crashes} Chromium crashes, ${report.faultCounts.storeFailures} store failures, ` +
            `${report.faultCounts.throttled} throttled requests, ${report.standInKills} stand-in SIGKILLs`,
        ]
      : []),
    ...(problems.length
      ? [`problems    ${problems.length}:`, ...problems.slice(0, 20).map((p) => `  ${p}`)]
      : []),
    "",
  ].join("\n"),
);
process.stderr.write(`${JSON.stringify(rest)}\n`);
const held = lost === 0 && report.stuck === 0 && report.duplicated === 0 && report.unnamedFailures === 0;
process.exit(held && problems.length === 0 ? 0 : 1);
