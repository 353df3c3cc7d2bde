import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";

/** Resident set size of a process in MB, from /proc (Linux only); undefined once it is gone. */
export function rssMb(pid: number): number | undefined {
  return residentMb(pid)?.rss;
}

/**
 * RSS in MB and its file-backed part: pages of mapped files (Chromium's binary, fonts) that the
 * process shares with the page cache, as against its own (anonymous) memory.
 */
export function residentMb(pid: number): { rss: number; file: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    const rss = kb("VmRSS");
    return rss === undefined
      ? undefined
      : { rss: Number(rss) / 1024, file: Number(kb("RssFile") ?? 0) / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in seconds; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (utime, stime), counted from "state" as field 3; clock ticks of 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Every live descendant of `pid` with its command name (`comm`). */
export function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const parents = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ")".
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      parents.set(Number(entry), { ppid, comm });
    } catch {
      // The process exited while we looked.
    }
  }
  const found: Array<{ pid: number; comm: string }> = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const [child, info] of parents) {
      if (info.ppid === parent) {
        found.push({ pid: child, comm: info.comm });
        frontier.push(child);
      }
    }
  }
  return found;
}

export interface RssSample {
  /** Seconds since sampling started. */
  readonly t: number;
  /** Renders finished by then, as counted by the caller. */
  readonly renders: number;
  readonly nodeMb: number;
  /** All Chromium processes under the node process (one with `--single-process`). */
  readonly chromiumMb: number;
  /** The part of `chromiumMb` that is mapped files (its binary, fonts), shared with the page cache. */
  readonly chromiumFileMb: number;
  /** The AWS stand-ins' process, when they run apart from the worker's. */
  readonly standInsMb?: number;
  /** CPU seconds used since sampling started, by the node process and by its Chromium. */
  readonly nodeCpuS: number;
  readonly chromiumCpuS: number;
  /** The same for the AWS stand-ins' process, when they run apart. */
  readonly standInsCpuS?: number;
}

/** Samples the RSS of a node process and of the Chromium it started, once per interval. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  readonly #started = performance.now();
  #timer: NodeJS.Timeout | undefined;
  readonly #nodeCpuAtStart: number;
  readonly #standInsCpuAtStart: number;
  /** CPU seconds of every Chromium seen: at the first and at the latest sample. */
  readonly #chromiumCpu = new Map<number, { first: number; last: number }>();

  constructor(
    private readonly pid: number,
    private readonly renders: () => number,
    private readonly standInsPid?: number,
  ) {
    this.#nodeCpuAtStart = cpuSeconds(pid);
    this.#standInsCpuAtStart = standInsPid === undefined ? 0 : cpuSeconds(standInsPid);
    for (const p of this.#chromium()) {
      const cpu = cpuSeconds(p.pid);
      this.#chromiumCpu.set(p.pid, { first: cpu, last: cpu });
    }
  }

  #chromium() {
    return descendants(this.pid).filter((p) => /chrom/i.test(p.comm));
  }

  sample(): RssSample {
    const chromium = this.#chromium();
    // A browser launched since the start counts from zero; one recycled since keeps what it had
    // used by the last sample that saw it.
    for (const p of chromium) {
      const seen = this.#chromiumCpu.get(p.pid);
      const cpu = cpuSeconds(p.pid);
      this.#chromiumCpu.set(p.pid, { first: seen?.first ?? 0, last: cpu || (seen?.last ?? 0) });
    }
    const resident = chromium.map((p) => residentMb(p.pid));
    let chromiumCpu = 0;
    for (const { first, last } of this.#chromiumCpu.values()) chromiumCpu += last - first;
    const s: RssSample = {
      t: round((performance.now() - this.#started) / 1000, 1),
      renders: this.renders(),
      nodeMb: round(rssMb(this.pid) ?? 0, 1),
      chromiumMb: round(
        resident.reduce((sum, r) => sum + (r?.rss ?? 0), 0),
        1,
      ),
      chromiumFileMb: round(
        resident.reduce((sum, r) => sum + (r?.file ?? 0), 0),
        1,
      ),
      ...(this.standInsPid !== undefined ? { standInsMb: round(rssMb(this.standInsPid) ?? 0, 1) } : {}),
      nodeCpuS: round(cpuSeconds(this.pid) - this.#nodeCpuAtStart, 2),
      chromiumCpuS: round(chromiumCpu, 2),
      ...(this.standInsPid !== undefined
        ? { standInsCpuS: round(cpuSeconds(this.standInsPid) - this.#standInsCpuAtStart, 2) }
        : {}),
    };
    this.samples.push(s);
    return s;
  }

  start(intervalMs = 1000): this {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
    return this;
  }

  stop(): RssSample[] {
    clearInterval(this.#timer);
    this.sample();
    return this.samples;
  }
}

/** The 1-minute load average and core count: a noisy machine shows here first. */
export function machineLoad() {
  return { loadAverage1m: round(loadavg()[0] ?? 0, 2) };
}

export const round = (n: number, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
