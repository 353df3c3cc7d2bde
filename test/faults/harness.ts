import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, paginateScan } from "@aws-sdk/lib-dynamodb";
import type { RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { verifyWebhook } from "../../functions/client/webhooks.js";
import { OUTPUTS } from "../../functions/core/constants.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import type { FaultCounts, FaultSpec } from "../../functions/local/fault-injection.js";
import type { LocalStackOptions } from "../../functions/local/stack.js";
import { startTestStack, TENANT_A } from "../integration/helpers/local-stack.js";
import { type StandInsApart, startStandInsApart } from "./stand-ins-apart.js";

/**
 * Drives many jobs through an in-process local stack (real stand-ins, real Chromium), optionally
 * under injected faults, and then checks every promise Kiln makes about them from the outside: the
 * table, the bucket, the renders Chromium actually did, and the webhooks a receiver verified.
 * Shared by the fault test (npm run test:faults) and the load run (npm run load).
 */
export interface HarnessOptions {
  readonly jobs: number;
  readonly faults?: FaultSpec;
  /** Concurrent HTTP clients submitting. */
  readonly clientConcurrency: number;
  /** Share of jobs with a callbackUrl to the harness's receiver. */
  readonly webhookShare: number;
  /** Share of the receiver's answers that are a 500 (a flaky receiver). */
  readonly receiverFailureShare: number;
  /** Share of jobs with a template that cannot be rendered (they must fail with template_error). */
  readonly invalidShare: number;
  /** Every n-th job is submitted a second time with the same Idempotency-Key. */
  readonly replayEvery: number;
  /** Give up waiting for terminal states after this long. */
  readonly timeoutMs: number;
  /**
   * Runs the AWS stand-ins in a process of their own and SIGKILLs it after every this many renders,
   * starting it again at once on the same data dir and ports. @default - stand-ins in the stack's process
   */
  readonly standInKillEvery?: number;
  readonly stack?: Partial<LocalStackOptions>;
  readonly log?: (line: string) => void;
}

export interface HarnessReport {
  readonly submitted: number;
  /** Submissions that never got an id, even after retries with their key. */
  readonly notAccepted: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failuresByCode: Record<string, number>;
  /** The message of one failed job per code: what an operator would read. */
  readonly failureSamples: Record<string, string>;
  /** Accepted jobs whose record is not found when the run ends. */
  readonly lost: number;
  /** Accepted jobs that are not terminal when the run ends. */
  readonly stuck: number;
  /** Failed jobs without a code and message. */
  readonly unnamedFailures: number;
  /** Keys with more than one job, jobs rendered to more than one distinct output, outputs nobody owns. */
  readonly duplicated: number;
  /** Outputs stored by an attempt that died before recording them, on a job that then failed. */
  readonly outputsOfFailedAttempts: number;
  readonly durationMs: number;
  /** Terminal jobs per second, from the first submission to the last terminal state. */
  readonly throughputPerSecond: number;
  readonly renders: number;
  readonly jobsRenderedMoreThanOnce: number;
  readonly faultCounts?: FaultCounts;
  /** Times the stand-ins' process was SIGKILLed and started again. */
  readonly standInKills: number;
  /** How long each restart of the stand-ins' process took, kill to ready (ms). */
  readonly standInRestartsMs: number[];
  readonly webhooks: {
    readonly expected: number;
    readonly delivered: number;
    readonly givenUp: number;
    readonly unsettled: number;
    readonly verifiedDeliveries: number;
    readonly rejectedSignatures: number;
  };
  /** Every violated invariant, in a sentence; empty when all held. */
  readonly problems: string[];
}

const markerOf = (html: string) => /data-job="(\d+)"/.exec(html)?.[1];

function seeded(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export async function runHarness(options: HarnessOptions): Promise<HarnessReport> {
  const log = options.log ?? (() => {});
  const renderedSha = new Map<string, Set<string>>();
  const renderCounts = new Map<string, number>();
  let renders = 0;
  let standInsDir: string | undefined;
  let standIns: StandInsApart | undefined;
  let standInsRestart: Promise<void> | undefined;
  let nextStandInKill = options.standInKillEvery ?? Number.POSITIVE_INFINITY;
  if (options.standInKillEvery !== undefined) {
    standInsDir = await mkdtemp(join(tmpdir(), "kiln-fault-stand-ins-"));
    standIns = await startStandInsApart(standInsDir);
  }
  const standInRestartsMs: number[] = [];
  const killStandIns = (apart: StandInsApart) => {
    log(`SIGKILL to the stand-ins' process after ${renders} renders; starting them again`);
    const killedAt = Date.now();
    standInsRestart = apart.killHardAndRestart().then(
      () => {
        standInRestartsMs.push(Date.now() - killedAt);
        log("stand-ins running again");
      },
      (err: Error) => log(`the stand-ins did not start again: ${err.message}`),
    );
  };
  const stopStandIns = async () => {
    await standInsRestart;
    await standIns?.stop();
    if (standInsDir) await rm(standInsDir, { recursive: true, force: true });
  };
  const t = await startTestStack({
    visibilityTimeoutSeconds: 3,
    maxReceiveCount: 4,
    retry: { baseSeconds: 1, maxSeconds: 4 },
    workerConcurrency: 2,
    batchSize: 5,
    webhookSchedule: { delaysSeconds: [1, 2, 4], windowSeconds: 300 },
    // The reconciler's deadline is the one derived from this queue (28 s): a job waiting minutes behind
    // the backlog must be left alone because messages wait, not taken for lost.
    ...(standIns ? { standIns: standIns.endpoints, reconcileEverySeconds: 10 } : {}),
    ...options.stack,
    faults: {
      ...(options.faults ? { random: options.faults } : {}),
      afterRender: (html, body) => {
        renders += 1;
        if (standIns && renders >= nextStandInKill) {
          nextStandInKill += options.standInKillEvery ?? Number.POSITIVE_INFINITY;
          killStandIns(standIns);
        }
        const marker = markerOf(html);
        if (marker === undefined) return;
        renderCounts.set(marker, (renderCounts.get(marker) ?? 0) + 1);
        const sha = createHash("sha256").update(body).digest("hex");
        renderedSha.set(marker, (renderedSha.get(marker) ?? new Set()).add(sha));
      },
    },
  }).catch(async (err: unknown) => {
    await stopStandIns();
    throw err;
  });
  const dynamodb = new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb));
  const s3 = new S3Client(localClientConfig(t.stack.endpoints.sqsS3));
  const receiverRandom = seeded((options.faults?.seed ?? 1) + 7);
  const received = new Map<string, Array<{ status: number; eventStatus: string }>>();
  let rejectedSignatures = 0;
  let receiver: Server | undefined;

  try {
    const secret = await t.clientA.getWebhookSecret();
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        try {
          const event = verifyWebhook(secret, req.headers as Record<string, string>, Buffer.concat(chunks));
          const status = receiverRandom() < options.receiverFailureShare ? 500 : 204;
          const list = received.get(event.data.id) ?? [];
          list.push({ status, eventStatus: event.data.status });
          received.set(event.data.id, list);
          res.writeHead(status).end();
        } catch {
          rejectedSignatures += 1;
          res.writeHead(401).end();
        }
      });
    });
    await new Promise<void>((resolve) => receiver?.listen(0, "127.0.0.1", resolve));
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

    // Which jobs are invalid or carry a callback is spread evenly, not random, so small runs have some.
    const every = (share: number) => (share > 0 ? Math.max(1, Math.round(1 / share)) : 0);
    const invalidEvery = every(options.invalidShare);
    const webhookEvery = every(options.webhookShare);
    const isInvalid = (i: number) => invalidEvery > 0 && i % invalidEvery === invalidEvery - 1;
    const hasWebhook = (i: number) => webhookEvery > 0 && i % webhookEvery === 0;
    const body = (i: number): RenderSubmissionInput => ({
      template: {
        html: isInvalid(i)
          ? `<p data-job="${i}">{{ 'logo' | asset_url }}</p>`
          : `<!doctype html><body style="margin:0;font:24px sans-serif"><p data-job="${i}">Job {{ n }}</p></body>`,
      },
      data: { n: i },
      output: { format: "png", width: 160, height: 60 },
      ...(hasWebhook(i) ? { callbackUrl } : {}),
    });

    const started = Date.now();
    const ids = new Map<number, string>();
    const replayIds = new Map<number, string>();
    let notAccepted = 0;
    const notAcceptedReasons: string[] = [];
    let next = 0;
    // A submission makes about seven calls to the stand-ins; with 10 % of them failing, about half the
    // attempts are answered 503 (Retry-After: 1). At 15 attempts a job whose every attempt failed
    // came up in a few runs in a hundred (0.5^15 × 550 submissions). A caller keeps retrying with its
    // key, as this one does, for up to about a minute.
    const attempts = 60;
    const submitters = Array.from({ length: options.clientConcurrency }, async () => {
      for (let i = next++; i < options.jobs; i = next++) {
        try {
          const job = await t.clientA.submitRender(body(i), { idempotencyKey: `job-${i}`, attempts });
          ids.set(i, job.id);
          if (options.replayEvery > 0 && i % options.replayEvery === 0) {
            const again = await t.clientA.submitRender(body(i), { idempotencyKey: `job-${i}`, attempts });
            replayIds.set(i, again.id);
          }
        } catch (err) {
          notAccepted += 1;
          notAcceptedReasons.push(`job ${i} was not accepted: ${(err as Error).message}`);
          log(`job ${i} was not accepted: ${(err as Error).message}`);
        }
        if ((i + 1) % 1000 === 0) log(`submitted ${i + 1}/${options.jobs}`);
      }
    });
    await Promise.all(submitters);
    log(`all submitted in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for terminal states`);

    // Wait on the table itself: every accepted job terminal, and every webhook settled.
    const deadline = started + options.timeoutMs;
    let items = new Map<string, Record<string, unknown>>();
    let lastTerminalAt = started;
    for (;;) {
      try {
        items = await scanJobs(dynamodb, t.stack.names.jobsTable);
      } catch (err) {
        // The stand-ins are down (killed, restarting): look again on the next round.
        log(`scan failed: ${(err as Error).message}`);
      }
      const pending = [...ids.values()].filter((id) => {
        const item = items.get(id);
        if (!item || (item.status !== "succeeded" && item.status !== "failed")) return true;
        return (
          item.callbackUrl !== undefined &&
          item.webhookState !== "delivered" &&
          item.webhookState !== "failed"
        );
      });
      const terminal = [...ids.values()].filter((id) => {
        const s = items.get(id)?.status;
        return s === "succeeded" || s === "failed";
      }).length;
      if (terminal === ids.size && lastTerminalAt === started) lastTerminalAt = Date.now();
      if (pending.length === 0 || Date.now() > deadline) break;
      log(`${terminal}/${ids.size} terminal, ${pending.length} pending (jobs or webhooks)`);
      // A scan reads every job: poll large runs less often so the check does not slow the run.
      await new Promise((r) => setTimeout(r, Math.max(1000, options.jobs / 2)));
    }
    if (lastTerminalAt === started) lastTerminalAt = Date.now();
    const durationMs = lastTerminalAt - started;
    // The final look needs the stand-ins up.
    await standInsRestart;
    items = await scanJobs(dynamodb, t.stack.names.jobsTable);

    const outputs = await listOutputs(s3, t.stack.names.outputsBucket);
    const problems: string[] = [...notAcceptedReasons];
    const failuresByCode: Record<string, number> = {};
    const failureSamples: Record<string, string> = {};
    let succeeded = 0;
    let failed = 0;
    let lost = 0;
    let stuck = 0;
    let unnamedFailures = 0;
    /** The succeeded job that owns each output key. */
    const jobOfOutput = new Map<string, number>();
    let renderedTwiceDifferently = 0;
    let jobsRenderedMoreThanOnce = 0;

    const idsSeen = new Map<string, number>();
    for (const [i, id] of ids) {
      if (idsSeen.has(id)) problems.push(`jobs ${idsSeen.get(id)} and ${i} share the id ${id}`);
      idsSeen.set(id, i);
      const replay = replayIds.get(i);
      if (replay !== undefined && replay !== id) {
        problems.push(`job ${i}: the repeated POST with its key got ${replay}, not ${id}`);
      }
      const item = items.get(id);
      const shas = renderedSha.get(String(i));
      if (shas && shas.size > 1) {
        renderedTwiceDifferently += 1;
        problems.push(`job ${i} was rendered to ${shas.size} different outputs`);
      }
      if (!item || (item.status !== "succeeded" && item.status !== "failed")) {
        if (item) stuck += 1;
        else lost += 1;
        problems.push(`job ${i} (${id}) is ${item ? `still ${item.status} ${stuckState(item)}` : "missing"}`);
        continue;
      }
      if (item.status === "succeeded") {
        succeeded += 1;
        const output = item.output as { key: string; sha256: string };
        // Every job's document says "Job <i>": two jobs with one output means a render captured
        // another job's document.
        const other = jobOfOutput.get(output.key);
        if (other !== undefined) problems.push(`jobs ${other} and ${i} have the same output ${output.key}`);
        jobOfOutput.set(output.key, i);
        if (!outputs.has(output.key))
          problems.push(`job ${i} succeeded but its output ${output.key} is missing`);
        if (shas && !shas.has(output.sha256))
          problems.push(`job ${i}'s output is not what Chromium rendered`);
        if (isInvalid(i)) problems.push(`job ${i} has a broken template but succeeded`);
      } else {
        failed += 1;
        const error = item.error as { code?: string; message?: string } | undefined;
        const code = error?.code ?? "(none)";
        failuresByCode[code] = (failuresByCode[code] ?? 0) + 1;
        failureSamples[code] ??= error?.message ?? "";
        if (!error?.code || !error.message) {
          unnamedFailures += 1;
          problems.push(`job ${i} failed without a reason`);
        }
        if (isInvalid(i) && code !== "template_error")
          problems.push(`job ${i} failed with ${code}, not template_error: ${error?.message}`);
      }
      if ((renderCounts.get(String(i)) ?? 0) > 1) jobsRenderedMoreThanOnce += 1;
    }
    // An attempt can store its output and die before recording it; when that was the job's last
    // attempt, the job fails (worker_lost, render_failed) and the object is left for the bucket's
    // lifecycle rule. Any other output nobody owns is a duplicate.
    const failedJobOf = new Map<string, number>();
    for (const [i, id] of ids) {
      if (items.get(id)?.status !== "failed") continue;
      for (const sha of renderedSha.get(String(i)) ?? []) failedJobOf.set(sha, i);
    }
    const unowned = [...outputs].filter((key) => !jobOfOutput.has(key));
    const leftBehind = unowned.filter((key) => failedJobOf.has(shaOfOutputKey(key)));
    const orphans = unowned.filter((key) => !leftBehind.includes(key));
    for (const key of orphans) {
      // Whose render produced these bytes, if any reported them: the first thing to know about an orphan.
      const sha = shaOfOutputKey(key);
      const renderedBy = [...renderedSha].filter(([, shas]) => shas.has(sha)).map(([job]) => job);
      problems.push(
        `output ${key} belongs to no succeeded job (${renderedBy.length > 0 ? `rendered for job ${renderedBy.join(", ")}` : "no render reported its bytes"})`,
      );
    }

    let expected = 0;
    let delivered = 0;
    let givenUp = 0;
    let unsettled = 0;
    let verifiedDeliveries = 0;
    for (const [i, id] of ids) {
      if (!hasWebhook(i)) continue;
      const item = items.get(id);
      if (!item || (item.status !== "succeeded" && item.status !== "failed")) continue;
      expected += 1;
      const got = received.get(id) ?? [];
      verifiedDeliveries += got.length;
      for (const d of got) {
        if (d.eventStatus !== item.status)
          problems.push(`job ${i}'s webhook said ${d.eventStatus}, not ${item.status}`);
      }
      if (item.webhookState === "delivered") {
        delivered += 1;
        if (!got.some((d) => d.status === 204))
          problems.push(`job ${i}'s webhook is delivered but never arrived`);
      } else if (item.webhookState === "failed") {
        givenUp += 1;
        const attempts = (item.webhookAttempts as unknown[] | undefined)?.length ?? 0;
        if (attempts === 0) problems.push(`job ${i}'s webhook was given up without an attempt`);
      } else {
        unsettled += 1;
        problems.push(`job ${i}'s webhook is ${String(item.webhookState ?? "not started")}`);
      }
    }
    if (rejectedSignatures > 0) problems.push(`${rejectedSignatures} webhook deliveries failed verification`);

    const duplicated = renderedTwiceDifferently + orphans.length + (ids.size - new Set(ids.values()).size);
    const terminal = succeeded + failed;
    return {
      submitted: options.jobs,
      notAccepted,
      succeeded,
      failed,
      failuresByCode,
      failureSamples,
      lost,
      stuck,
      unnamedFailures,
      duplicated,
      outputsOfFailedAttempts: leftBehind.length,
      durationMs,
      throughputPerSecond: terminal / (durationMs / 1000),
      renders,
      jobsRenderedMoreThanOnce,
      ...(t.stack.faultCounts
        ? {
            faultCounts: {
              ...t.stack.faultCounts,
              killsByStep: { ...t.stack.faultCounts.killsByStep },
            },
          }
        : {}),
      standInKills: standIns?.kills ?? 0,
      standInRestartsMs,
      webhooks: {
        expected,
        delivered,
        givenUp,
        unsettled,
        verifiedDeliveries,
        rejectedSignatures,
      },
      problems,
    };
  } finally {
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    dynamodb.destroy();
    s3.destroy();
    await t.stop();
    await stopStandIns();
  }
}

async function scanJobs(
  client: DynamoDBClient,
  table: string,
): Promise<Map<string, Record<string, unknown>>> {
  const db = DynamoDBDocumentClient.from(client);
  const items = new Map<string, Record<string, unknown>>();
  const pages = paginateScan(
    { client: db },
    { TableName: table, FilterExpression: "sk = :job", ExpressionAttributeValues: { ":job": "JOB" } },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      if (item.tenant === TENANT_A.tenant) items.set(item.id as string, item);
    }
  }
  return items;
}

/** The sha256 an output's content-addressed key ends with. */
function shaOfOutputKey(key: string): string {
  return /([0-9a-f]{64})\.\w+$/.exec(key)?.[1] ?? "";
}

async function listOutputs(client: S3Client, bucket: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: OUTPUTS.keyPrefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.add(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** What a job that never finished was left holding: enough to tell a dead attempt from a lost message. */
function stuckState(item: Record<string, unknown>): string {
  const lastError = item.lastError as { code?: string; message?: string } | undefined;
  const leaseExpiresAt = item.leaseExpiresAt as number | undefined;
  return JSON.stringify({
    attempts: item.attempts,
    lease: leaseExpiresAt === undefined ? "none" : `expires ${leaseExpiresAt - Date.now()} ms from now`,
    lastError: lastError ? `${lastError.code}: ${lastError.message}` : undefined,
    updatedAt: item.updatedAt,
  });
}
