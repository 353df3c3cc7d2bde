/**
 * A worker killed at each of its steps in turn, one job per step, on the real local stack: every job
 * ends terminal with the right outcome (succeeded once, or failed with a named reason), and no job
 * leaves a second output. The kill at `final-delivery` leaves the job to the reconciler.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobView, RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { OUTPUTS } from "../../functions/core/constants.js";
import { outputKey } from "../../functions/core/render-job.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { type RenderFault, WORKER_STEPS, type WorkerStep } from "../../functions/local/fault-injection.js";
import { eventually, startTestStack, TENANT_A, type TestStack } from "../integration/helpers/local-stack.js";

const HOLD_SECONDS = 2;
const STORED_TEMPLATE = "kill-steps";

interface Case {
  readonly step: WorkerStep;
  /** The job's submission, with its own marker so that its output is its own. */
  readonly submission: (callbackUrl: string) => RenderSubmissionInput;
  /** Faults of this job's renders, in order (the step's kill aside). */
  readonly renders?: RenderFault[];
  readonly status: "succeeded" | "failed";
  readonly code?: string;
}

const page = (marker: string, extra: Partial<RenderSubmissionInput> = {}): RenderSubmissionInput => ({
  template: { html: `<!doctype html><body style="margin:0"><p data-step="${marker}">{{ text }}</p></body>` },
  data: { text: marker },
  output: { format: "png", width: 160, height: 60 },
  ...extra,
});

const CASES: Record<WorkerStep, Case> = {
  claim: { step: "claim", submission: () => page("claim"), status: "succeeded" },
  "load-request": { step: "load-request", submission: () => page("load-request"), status: "succeeded" },
  "load-template": {
    step: "load-template",
    submission: () => ({
      template: { id: STORED_TEMPLATE, version: 1 },
      data: { text: "load-template" },
      output: { format: "png", width: 160, height: 60 },
    }),
    status: "succeeded",
  },
  render: { step: "render", submission: () => page("render"), status: "succeeded" },
  upload: { step: "upload", submission: () => page("upload"), status: "succeeded" },
  "mark-succeeded": { step: "mark-succeeded", submission: () => page("mark-succeeded"), status: "succeeded" },
  "mark-failed": {
    step: "mark-failed",
    submission: () => ({ ...page("mark-failed"), template: { html: "<p>{{ 'logo' | asset_url }}</p>" } }),
    status: "failed",
    code: "template_error",
  },
  // A transient failure releases the lease; the worker dies right after the release.
  release: {
    step: "release",
    submission: () => page("release"),
    renders: [new Error("injected: a transient render failure")],
    status: "succeeded",
  },
  "enqueue-webhook": {
    step: "enqueue-webhook",
    submission: (callbackUrl) => page("enqueue-webhook", { callbackUrl }),
    status: "succeeded",
  },
  delete: { step: "delete", submission: () => page("delete"), status: "succeeded" },
  // Every render attempt is killed; the final delivery marks the job and is killed too.
  "final-delivery": {
    step: "final-delivery",
    submission: () => page("final-delivery"),
    renders: ["kill", "kill", "kill"],
    status: "failed",
    code: "stuck",
  },
};

let t: TestStack;
let s3: S3Client;
let sqs: SQSClient;
let receiver: Server;
/** The receiver's base URL; each case's webhook goes to a path of its own. */
let receiverUrl: string;
/** The step whose next pass kills the worker, and the steps that did. */
let armed: WorkerStep | undefined;
const killedAt: WorkerStep[] = [];
const renderFaults = new Map<string, RenderFault[]>();
const renderedSha = new Map<string, Set<string>>();
const webhookIds = new Map<string, Set<string>>();

const markerOf = (html: string) => /data-step="([\w-]+)"/.exec(html)?.[1];

beforeAll(async () => {
  t = await startTestStack({
    visibilityTimeoutSeconds: HOLD_SECONDS,
    // Three render attempts, then the settling delivery.
    maxReceiveCount: 4,
    retry: { baseSeconds: 1, maxSeconds: 1 },
    webhookSchedule: { delaysSeconds: [1], windowSeconds: 60 },
    reconcileStuckAfterSeconds: 60,
    reconcileFinalDeliveryGraceSeconds: 1,
    // The test drives the reconciler.
    reconcileEverySeconds: 3600,
    faults: {
      atStep: (step) => {
        if (step !== armed) return undefined;
        armed = undefined;
        killedAt.push(step);
        return "kill";
      },
      beforeRender: (html) => {
        const marker = markerOf(html);
        return marker === undefined ? undefined : renderFaults.get(marker)?.shift();
      },
      afterRender: (html, body) => {
        const marker = markerOf(html) ?? "";
        const sha = createHash("sha256").update(body).digest("hex");
        renderedSha.set(marker, (renderedSha.get(marker) ?? new Set()).add(sha));
      },
    },
  });
  s3 = new S3Client(localClientConfig(t.stack.endpoints.sqsS3));
  sqs = new SQSClient(localClientConfig(t.stack.endpoints.sqsS3));
  await t.clientA.createTemplate({
    id: STORED_TEMPLATE,
    html: '<!doctype html><body style="margin:0"><p data-step="load-template">{{ text }}</p></body>',
  });
  receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = String(req.headers["webhook-id"] ?? "");
      const path = req.url ?? "";
      webhookIds.set(path, (webhookIds.get(path) ?? new Set()).add(id));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  s3?.destroy();
  sqs?.destroy();
  await t?.stop();
});

async function outputKeys(): Promise<Set<string>> {
  const page = await s3.send(
    new ListObjectsV2Command({ Bucket: t.stack.names.outputsBucket, Prefix: OUTPUTS.keyPrefix }),
  );
  return new Set((page.Contents ?? []).map((o) => o.Key ?? ""));
}

/** No message of the render queue left, visible or in flight: the next case's kill can only be its job's. */
async function renderQueueEmpty(): Promise<true | undefined> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: t.stack.queues.queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  const left =
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
  return left === 0 ? true : undefined;
}

async function terminal(id: string): Promise<JobView> {
  return eventually(
    async () => {
      // The final delivery's job is ended by the reconciler, run here as its timer would.
      await t.stack.reconcile();
      const job = await t.clientA.getRender(id);
      return job.status === "succeeded" || job.status === "failed" ? job : undefined;
    },
    `job ${id} to end`,
    90_000,
  );
}

describe("a worker killed at each of its steps", () => {
  it("covers every kill point", () => {
    expect(Object.keys(CASES).sort()).toEqual([...WORKER_STEPS].sort());
  });

  for (const step of WORKER_STEPS) {
    const c = CASES[step];
    it(`killed after ${step}: the job ends ${c.status}${c.code ? ` (${c.code})` : ""}, with at most one output`, {
      timeout: 120_000,
    }, async () => {
      await eventually(renderQueueEmpty, "the render queue to be empty", 60_000);
      const before = await outputKeys();
      if (c.renders) renderFaults.set(step, [...c.renders]);
      armed = step;
      const hooks = `/hooks/${step}`;
      const { id } = await t.clientA.submitRender(c.submission(`${receiverUrl}${hooks}`));
      const job = await terminal(id);

      expect(killedAt.at(-1)).toBe(step);
      expect(armed).toBeUndefined();
      expect(job.status).toBe(c.status);
      const added = [...(await outputKeys())].filter((key) => !before.has(key));
      if (c.status === "succeeded") {
        // Exactly one output, the one recorded, and the job rendered to one result only.
        expect(added).toEqual([outputKey(TENANT_A.tenant, job.output?.sha256 ?? "", "png")]);
        expect(renderedSha.get(step)?.size).toBe(1);
        expect(renderedSha.get(step)).toContain(job.output?.sha256);
      } else {
        expect(job.error?.code).toBe(c.code);
        expect(job.error?.message).toMatch(/\w/);
        expect(added).toEqual([]);
      }
      if (step === "enqueue-webhook") {
        const delivered = await eventually(async () => {
          const view = await t.clientA.getRender(id);
          return view.webhook?.state === "delivered" ? view : undefined;
        }, "the webhook to be delivered");
        expect(delivered.webhook?.state).toBe("delivered");
        // However often it was sent, it is one event: one webhook-id.
        expect(webhookIds.get(hooks)?.size).toBe(1);
      }
    });
  }
});
