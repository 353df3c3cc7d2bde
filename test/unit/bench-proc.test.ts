import { describe, expect, it } from "vitest";
import { RssSampler, residentMb, rssMb } from "../../bin/bench/proc.js";

describe("bench process memory", () => {
  it("splits a live process's RSS into its mapped-file part, which is within it", () => {
    const resident = residentMb(process.pid);
    expect(resident).toBeDefined();
    const { rss, file } = resident as { rss: number; file: number };
    expect(rss).toBeGreaterThan(0);
    // Node's own binary is a mapped file of this process.
    expect(file).toBeGreaterThan(0);
    expect(file).toBeLessThan(rss);
  });

  it("answers undefined for a process that does not exist", () => {
    // Above the kernel's largest pid (2^22).
    expect(residentMb(5_000_000)).toBeUndefined();
    expect(rssMb(5_000_000)).toBeUndefined();
  });

  it("samples the stand-ins' process only when it is given one", () => {
    const without = new RssSampler(process.pid, () => 0).sample();
    expect(without.standInsMb).toBeUndefined();
    expect(without.nodeMb).toBeGreaterThan(0);
    const withStandIns = new RssSampler(process.pid, () => 7, process.pid).sample();
    expect(withStandIns.standInsMb).toBeGreaterThan(0);
    expect(withStandIns.renders).toBe(7);
  });

  it("counts the stand-ins' CPU from the start of sampling, apart from the stack's", () => {
    const sampler = new RssSampler(process.pid, () => 0, process.pid);
    // Burn 60 ms of CPU: /proc counts it in 10 ms ticks.
    const start = process.cpuUsage();
    while (process.cpuUsage(start).user < 60_000) Math.sqrt(Math.random());
    const s = sampler.sample();
    expect(s.standInsCpuS).toBeGreaterThanOrEqual(0.04);
    expect(s.standInsCpuS).toBeCloseTo(s.nodeCpuS, 1);
    expect(new RssSampler(process.pid, () => 0).sample().standInsCpuS).toBeUndefined();
  });
});
