import { describe, expect, it } from "vitest";
import {
  canTransition,
  isTerminal,
  type JobStatus,
  statusesAllowedBefore,
} from "../../functions/core/job.js";

const ALL: JobStatus[] = ["queued", "rendering", "succeeded", "failed"];

describe("job state machine", () => {
  it("moves forward only: queued → rendering → succeeded | failed", () => {
    expect(canTransition("queued", "rendering")).toBe(true);
    expect(canTransition("rendering", "succeeded")).toBe(true);
    expect(canTransition("rendering", "failed")).toBe(true);
    expect(canTransition("queued", "failed")).toBe(true);
    expect(canTransition("rendering", "queued")).toBe(false);
    expect(canTransition("queued", "succeeded")).toBe(false);
  });

  it("allows a new attempt of a job that was rendering when its worker died", () => {
    expect(canTransition("rendering", "rendering")).toBe(true);
  });

  it("never leaves a terminal state", () => {
    for (const from of ALL.filter(isTerminal)) {
      for (const to of ALL) expect(canTransition(from, to), `${from} → ${to}`).toBe(false);
    }
  });

  it("derives the store's write conditions from the same table", () => {
    expect(statusesAllowedBefore("rendering").sort()).toEqual(["queued", "rendering"]);
    expect(statusesAllowedBefore("succeeded")).toEqual(["rendering"]);
    expect(statusesAllowedBefore("failed").sort()).toEqual(["queued", "rendering"]);
    expect(statusesAllowedBefore("queued")).toEqual([]);
  });
});
