import { describe, expect, it } from "vitest";
import {
  EchoRenderer,
  FixedClock,
  MemoryJobStore,
  MemoryObjectStore,
} from "../../functions/adapters/memory/memory-ports.js";
import { OUTPUTS } from "../../functions/core/constants.js";
import { PermanentRenderError } from "../../functions/core/errors.js";
import type { Job } from "../../functions/core/job.js";
import { outputKey, renderJob } from "../../functions/core/render-job.js";

function setup() {
  const jobs = new MemoryJobStore();
  const renderer = new EchoRenderer();
  const outputs = new MemoryObjectStore();
  const clock = new FixedClock();
  const job: Job = {
    tenant: "t1",
    id: "j1",
    status: "queued",
    createdAt: clock.now().toISOString(),
    updatedAt: clock.now().toISOString(),
    attempts: 0,
    request: {
      template: { html: "<b>{{ who }}</b>" },
      data: { who: "Ada" },
      output: { format: "png", width: 10, height: 10, scale: 1 },
    },
  };
  jobs.jobs.set("t1/j1", job);
  return { deps: { jobs, renderer, outputs, clock }, jobs, renderer, outputs };
}

const first = { receiveCount: 1, maxReceiveCount: 3 };

describe("renderJob", () => {
  it("hydrates, renders, stores a content-addressed immutable output and succeeds", async () => {
    const { deps, jobs, renderer, outputs } = setup();
    const result = await renderJob(deps, { tenant: "t1", jobId: "j1" }, first);
    expect(result).toMatchObject({ outcome: "done", status: "succeeded", format: "png" });
    expect(renderer.calls[0]?.html).toBe("<b>Ada</b>");
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("succeeded");
    expect(job?.attempts).toBe(1);
    const sha = job?.output?.sha256 ?? "";
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(job?.output?.key).toBe(outputKey("t1", sha, "png"));
    expect(outputs.objects.get(job?.output?.key ?? "")?.cacheControl).toBe(OUTPUTS.cacheControl);
    expect(job?.output?.bytes).toBe(new TextEncoder().encode("<b>Ada</b>").byteLength);
  });

  it("does not render a job that is already terminal", async () => {
    const { deps, renderer } = setup();
    await renderJob(deps, { tenant: "t1", jobId: "j1" }, first);
    const again = await renderJob(
      deps,
      { tenant: "t1", jobId: "j1" },
      { receiveCount: 2, maxReceiveCount: 3 },
    );
    expect(again).toEqual({ outcome: "done", status: "skipped" });
    expect(renderer.calls).toHaveLength(1);
  });

  it("fails at once, without retry, on a permanent error", async () => {
    const { deps, jobs, renderer } = setup();
    renderer.failures.push(new PermanentRenderError("render_error", "page could not be laid out"));
    const result = await renderJob(deps, { tenant: "t1", jobId: "j1" }, first);
    expect(result).toEqual({ outcome: "done", status: "failed", code: "render_error" });
    expect((await jobs.get("t1", "j1"))?.error).toEqual({
      code: "render_error",
      message: "page could not be laid out",
    });
  });

  it("fails a template error as template_error", async () => {
    const { deps, jobs } = setup();
    const job = jobs.jobs.get("t1/j1") as Job;
    jobs.jobs.set("t1/j1", { ...job, request: { ...job.request, template: { html: "{% for %}" } } });
    await renderJob(deps, { tenant: "t1", jobId: "j1" }, first);
    expect((await jobs.get("t1", "j1"))?.error?.code).toBe("template_error");
  });

  it("asks for a retry on a transient error and leaves the job rendering", async () => {
    const { deps, jobs, renderer } = setup();
    renderer.failures.push(new Error("Target closed"));
    const result = await renderJob(deps, { tenant: "t1", jobId: "j1" }, first);
    expect(result.outcome).toBe("retry");
    expect((await jobs.get("t1", "j1"))?.status).toBe("rendering");
    const second = await renderJob(
      deps,
      { tenant: "t1", jobId: "j1" },
      { receiveCount: 2, maxReceiveCount: 3 },
    );
    expect(second).toMatchObject({ outcome: "done", status: "succeeded" });
    expect((await jobs.get("t1", "j1"))?.attempts).toBe(2);
  });

  it("marks the job failed with the last reason on the last delivery and sends the message on to the DLQ", async () => {
    const { deps, jobs, renderer } = setup();
    renderer.failures.push(new Error("browser crashed"));
    const result = await renderJob(
      deps,
      { tenant: "t1", jobId: "j1" },
      { receiveCount: 3, maxReceiveCount: 3 },
    );
    expect(result.outcome).toBe("dead-letter");
    const job = await jobs.get("t1", "j1");
    expect(job?.status).toBe("failed");
    expect(job?.error?.code).toBe("render_failed");
    expect(job?.error?.message).toContain("browser crashed");
  });
});
