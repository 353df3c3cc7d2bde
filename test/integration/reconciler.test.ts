/**
 * Issue #17's acceptance on the real local stack: a job whose worker dies right after its message's
 * final delivery is ended by the reconciler within its deadline, with a named reason; a queued job
 * whose message is lost is re-enqueued once and renders.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbJobStore } from "../../functions/adapters/aws/dynamodb-job-store.js";
import type { RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import type { ReconcileSummary } from "../../functions/core/reconcile.js";
import { RenderRequestSchema } from "../../functions/core/render-request.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { eventually, startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

const HOLD_SECONDS = 2;
/** Short deadlines, set visibly on the local stack (function-configs.ts lists them as overridden). */
const FINAL_DELIVERY_GRACE_SECONDS = 1;
const STUCK_AFTER_SECONDS = 30;

const page = (marker: string): RenderSubmissionInput => ({
  template: { html: `<!doctype html><body><p data-marker="${marker}">{{ text }}</p></body>` },
  data: { text: marker },
  output: { format: "png", width: 120, height: 60 },
});

let t: TestStack;
let dynamodb: DynamoDBClient;
let jobs: DynamoDbJobStore;
/** Jobs whose settling (final) delivery is killed right after it marks them. */
const killAfterFinalDelivery = new Set<string>();
const killed: string[] = [];

beforeAll(async () => {
  t = await startTestStack({
    visibilityTimeoutSeconds: HOLD_SECONDS,
    // One render attempt, then the settling delivery.
    maxReceiveCount: 2,
    retry: { baseSeconds: 1, maxSeconds: 1 },
    reconcileStuckAfterSeconds: STUCK_AFTER_SECONDS,
    reconcileFinalDeliveryGraceSeconds: FINAL_DELIVERY_GRACE_SECONDS,
    // The test drives the reconciler; the timer stays out of its way.
    reconcileEverySeconds: 3600,
    faults: {
      beforeRender: (html) => (html.includes('data-marker="dies"') ? "kill" : undefined),
      afterStoreCall: (adapter, method, args) => {
        if (adapter !== "dynamodb.jobs" || method !== "markFinalDelivery") return undefined;
        const id = args[1] as string;
        if (!killAfterFinalDelivery.has(id)) return undefined;
        killed.push(id);
        return "kill";
      },
    },
  });
  dynamodb = new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb));
  jobs = new DynamoDbJobStore(dynamodb, t.stack.names.jobsTable);
});

afterAll(async () => {
  await t?.stop();
  dynamodb?.destroy();
});

/** Runs the reconciler until `done` holds, adding up what the runs did. */
async function reconcileUntil(done: () => Promise<boolean>, what: string) {
  const total = { examined: 0, requeued: 0, failed: 0 };
  const add = (s: ReconcileSummary) => {
    total.examined += s.examined;
    total.requeued += s.requeued;
    total.failed += s.failed;
  };
  await eventually(async () => {
    add(await t.stack.reconcile());
    return (await done()) ? true : undefined;
  }, what);
  return total;
}

describe("the reconciler on the local stack", () => {
  it("runs with the deadlines the stack set visibly", () => {
    expect(t.stack.functions.reconciler.overridden).toEqual([
      "stuckAfterSeconds",
      "finalDeliveryGraceSeconds",
    ]);
    expect(t.stack.functions.reconciler.config).toMatchObject({
      stuckAfterSeconds: STUCK_AFTER_SECONDS,
      finalDeliveryGraceSeconds: FINAL_DELIVERY_GRACE_SECONDS,
    });
  });

  it("fails a job whose worker was killed right after the final delivery, within the deadline, with the reason", async () => {
    const submitted = await t.clientA.submitRender(page("dies"));
    killAfterFinalDelivery.add(submitted.id);

    // The first attempt is killed mid-render; the final delivery marks the job and is killed too.
    const stuck = await eventually(async () => {
      const job = await jobs.get(TENANT_A.tenant, submitted.id);
      return job?.finalDeliveryAt && killed.includes(submitted.id) ? job : undefined;
    }, "the final delivery's mark, and its worker killed");
    expect(stuck).toMatchObject({ status: "rendering", attempts: 1 });
    expect(stuck.lease?.owner).toBeDefined();
    // Nothing else will end it: the message has had its last receive that could.
    expect((await t.clientA.getRender(submitted.id)).status).toBe("rendering");

    const finalDeliveryMs = Date.parse(stuck.finalDeliveryAt ?? "");
    const total = await reconcileUntil(
      async () => (await t.clientA.getRender(submitted.id)).status === "failed",
      "the reconciler to fail the stuck job",
    );
    const failed = await t.clientA.getRender(submitted.id);
    expect(failed.error?.code).toBe("stuck");
    expect(failed.error?.message).toContain("final delivery");
    expect(total).toMatchObject({ requeued: 0, failed: 1 });
    // Terminal within the deadline: the grace after the final delivery, and a lease's expiry.
    const endedMs = Date.parse(failed.updatedAt);
    expect(endedMs - finalDeliveryMs).toBeGreaterThanOrEqual(FINAL_DELIVERY_GRACE_SECONDS * 1000);
    expect(endedMs - finalDeliveryMs).toBeLessThan((FINAL_DELIVERY_GRACE_SECONDS + HOLD_SECONDS + 5) * 1000);
    // Never twice: the next run leaves it alone.
    expect(await t.stack.reconcile()).toMatchObject({ failed: 0, requeued: 0 });
    expect((await t.clientA.getRender(submitted.id)).updatedAt).toBe(failed.updatedAt);
  });

  it("re-enqueues, once, a queued job whose message was lost, and the job renders", async () => {
    // A job record with no message behind it (as when the message was dead-lettered before the
    // record was written), older than the deadline.
    const id = randomUUID();
    const long = new Date(Date.now() - (STUCK_AFTER_SECONDS + 5) * 1000).toISOString();
    const { template, data, output } = page("lost");
    await jobs.create({
      tenant: TENANT_A.tenant,
      id,
      status: "queued",
      createdAt: long,
      updatedAt: long,
      attempts: 0,
      request: RenderRequestSchema.parse({ template, data, output }),
    });
    const total = await reconcileUntil(
      async () => (await jobs.get(TENANT_A.tenant, id))?.requeuedAt !== undefined,
      "the reconciler to re-enqueue the job",
    );
    expect(total).toMatchObject({ requeued: 1, failed: 0 });
    const done = await t.clientA.waitFor(id);
    expect(done.status).toBe("succeeded");
    expect(done.attempts).toBe(1);
    expect(await t.stack.reconcile()).toMatchObject({ requeued: 0, failed: 0 });
  });
});
