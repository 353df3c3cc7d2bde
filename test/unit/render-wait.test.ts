import { describe, expect, it } from "vitest";
import { ValidationError } from "../../functions/core/errors.js";
import type { Job } from "../../functions/core/job.js";
import {
  maxJobReads,
  parseWaitSeconds,
  RENDER_WAIT,
  type WaitTimer,
  waitForTerminal,
  waitSchedule,
} from "../../functions/core/render-wait.js";
import { chooseRepresentation, preferredWait } from "../../functions/handlers/api/render-preferences.js";

/** Time passes only when the code under test sleeps (or a read takes `readMs`). */
class FakeTimer implements WaitTimer {
  nowMs = 0;
  readonly sleeps: number[] = [];
  now(): number {
    return this.nowMs;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += ms;
  }
}

const queued: Job = {
  tenant: "a",
  id: "00000000-0000-4000-8000-000000000001",
  status: "queued",
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  attempts: 0,
};

/** A store read that records when it happened and answers `statusAt(n)` for read n (1-based). */
function reader(timer: FakeTimer, statusAt: (n: number) => Job["status"] | "gone", readMs = 0) {
  const at: number[] = [];
  const read = async (): Promise<Job | undefined> => {
    at.push(timer.nowMs);
    timer.nowMs += readMs;
    const status = statusAt(at.length);
    return status === "gone" ? undefined : { ...queued, status };
  };
  return { read, at };
}

describe("waitSchedule", () => {
  it("starts fast, grows by a factor up to one read a second, and pauses exactly as long as the wait", () => {
    const delays = waitSchedule(RENDER_WAIT.maxSeconds * 1000);
    expect(delays[0]).toBe(RENDER_WAIT.firstDelayMs);
    for (let i = 1; i < delays.length - 1; i++) {
      const prev = delays[i - 1] as number;
      expect(delays[i]).toBe(Math.min(RENDER_WAIT.maxDelayMs, Math.round(prev * RENDER_WAIT.growth)));
    }
    expect(Math.max(...delays)).toBe(RENDER_WAIT.maxDelayMs);
    expect(delays.reduce((a, b) => a + b, 0)).toBe(RENDER_WAIT.maxSeconds * 1000);
    expect(waitSchedule(0)).toEqual([]);
    expect(waitSchedule(30)).toEqual([30]);
  });

  it("bounds the reads: the growing phase, then at most one a second", () => {
    const growing = waitSchedule(60_000).filter((d) => d < RENDER_WAIT.maxDelayMs).length;
    for (let seconds = 0; seconds <= RENDER_WAIT.maxSeconds; seconds++) {
      expect(maxJobReads(seconds * 1000), `${seconds} s`).toBeLessThanOrEqual(growing + seconds);
    }
    // The growing phase ends within a few seconds: most of a long wait costs one read a second.
    expect(growing).toBeLessThanOrEqual(10);
    expect(maxJobReads(RENDER_WAIT.maxSeconds * 1000)).toBeLessThan(1.5 * RENDER_WAIT.maxSeconds);
  });
});

describe("waitForTerminal", () => {
  it("reads an unfinished job on the schedule until the wait is over, never more often", async () => {
    const timer = new FakeTimer();
    const { read, at } = reader(timer, () => "rendering");
    const job = await waitForTerminal(queued, read, 10_000, timer);
    expect(job?.status).toBe("rendering");
    expect(at).toHaveLength(maxJobReads(10_000));
    expect(timer.nowMs).toBe(10_000);
    // No two reads closer than the schedule's pause before them.
    const delays = waitSchedule(10_000);
    for (let i = 1; i < at.length; i++) {
      expect((at[i] as number) - (at[i - 1] as number)).toBe(delays[i]);
    }
  });

  it("counts the time reads take against the wait, and still reads no more than the schedule", async () => {
    const timer = new FakeTimer();
    const { read, at } = reader(timer, () => "queued", 120);
    await waitForTerminal(queued, read, 5_000, timer);
    expect(at.length).toBeLessThanOrEqual(maxJobReads(5_000));
    expect(timer.nowMs).toBeGreaterThanOrEqual(5_000);
    expect(timer.nowMs).toBeLessThanOrEqual(5_000 + 120);
  });

  it("answers as soon as a read finds the job terminal", async () => {
    const timer = new FakeTimer();
    const { read, at } = reader(timer, (n) => (n === 3 ? "succeeded" : "rendering"));
    const job = await waitForTerminal(queued, read, 25_000, timer);
    expect(job?.status).toBe("succeeded");
    expect(at).toHaveLength(3);
    expect(timer.sleeps).toEqual(waitSchedule(25_000).slice(0, 3));
  });

  it("does not read at all for a job already terminal or a wait of 0, and answers undefined once the job is gone", async () => {
    const timer = new FakeTimer();
    const { read, at } = reader(timer, () => "gone");
    expect(await waitForTerminal({ ...queued, status: "failed" }, read, 25_000, timer)).toMatchObject({
      status: "failed",
    });
    expect(await waitForTerminal(queued, read, 0, timer)).toBe(queued);
    expect(at).toHaveLength(0);
    expect(await waitForTerminal(queued, read, 25_000, timer)).toBeUndefined();
    expect(at).toHaveLength(1);
  });
});

describe("parseWaitSeconds and Prefer", () => {
  it("takes whole seconds and cuts them to the cap", () => {
    expect(parseWaitSeconds("10", "wait")).toBe(10);
    expect(parseWaitSeconds(" 0 ", "wait")).toBe(0);
    expect(parseWaitSeconds("600", "wait")).toBe(RENDER_WAIT.maxSeconds);
  });

  it.each(["-1", "1.5", "abc", "", "1e3", "9999999999"])("refuses wait=%j naming the field", (value) => {
    let error: unknown;
    try {
      parseWaitSeconds(value, "Prefer");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { field: "Prefer", message: expect.stringContaining("wait must be a whole number of seconds") },
    ]);
  });

  it("finds wait among other preferences, quoted or not, case-insensitively", () => {
    expect(preferredWait("wait=10")).toBe(10);
    expect(preferredWait("respond-async, Wait=30")).toBe(RENDER_WAIT.maxSeconds);
    expect(preferredWait('handling=lenient, wait="5"')).toBe(5);
    expect(preferredWait("wait=7; foo=bar")).toBe(7);
    expect(preferredWait("return=minimal")).toBeUndefined();
    expect(preferredWait(undefined)).toBeUndefined();
    expect(() => preferredWait("wait")).toThrow(ValidationError);
    expect(() => preferredWait("wait=soon")).toThrow(/Prefer: wait must be a whole number/);
  });
});

describe("chooseRepresentation", () => {
  it.each([
    [undefined, "image/png", "json"],
    ["", "image/png", "json"],
    ["application/json", "image/png", "json"],
    ["*/*", "image/png", "json"],
    ["text/html", "image/png", "json"],
    ["image/png", "image/png", "output"],
    ["IMAGE/PNG", "image/png", "output"],
    ["image/*", "image/webp", "output"],
    ["application/pdf", "application/pdf", "output"],
    ["image/png;q=0.5, application/json", "image/png", "json"],
    ["application/json;q=0.1, image/png", "image/png", "output"],
    ["image/png, */*;q=0.8", "image/png", "output"],
    ["image/jpeg", "image/png", "not_acceptable"],
    ["image/*", "application/pdf", "not_acceptable"],
    // Refusing the output names nothing else to give: JSON, as without an Accept.
    ["image/png;q=0", "image/png", "json"],
    // Before the output type is known (a job not yet succeeded), any output type counts.
    ["image/jpeg", undefined, "output"],
    ["application/json", undefined, "json"],
  ] as const)("Accept %j for %s → %s", (accept, outputType, kind) => {
    expect(chooseRepresentation(accept, outputType).kind).toBe(kind);
  });
});
