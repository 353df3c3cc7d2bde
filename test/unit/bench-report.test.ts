import { describe, expect, it } from "vitest";
import type { RssSample } from "../../bin/bench/proc.js";
import { rssLine } from "../../bin/bench/report.js";

const sample = (t: number, nodeMb: number, chromiumMb: number): RssSample => ({
  t,
  renders: t * 10,
  nodeMb,
  chromiumMb,
  chromiumFileMb: chromiumMb / 2,
  nodeCpuS: t,
  chromiumCpuS: t,
});

describe("bench memory line", () => {
  it("compares the first and last samples that had a browser, not a gap between launches", () => {
    const line = rssLine([
      sample(0, 150, 0),
      sample(1, 160, 300),
      sample(2, 170, 420),
      sample(3, 175, 310),
      sample(4, 180, 0),
    ]);
    expect(line).toBe("node 150→180 MB (peak 180), Chromium 300→310 MB (peak 420)");
  });

  it("says so when no sample had a browser", () => {
    expect(rssLine([sample(0, 150, 0), sample(1, 151, 0)])).toBe(
      "node 150→151 MB (peak 151), Chromium no browser sampled",
    );
  });
});
