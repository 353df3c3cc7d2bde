import { round } from "./proc.js";

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly mean: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    p50: round(percentile(sorted, 50), 1),
    p95: round(percentile(sorted, 95), 1),
    mean: round(mean, 1),
    max: round(sorted.at(-1) ?? Number.NaN, 1),
  };
}

export const perHour = (count: number, elapsedMs: number) => Math.round((count / elapsedMs) * 3_600_000);

/** Runs `fn` `count` times on `lanes` concurrent lanes; returns each call's duration and the wall time. */
export async function runLanes(
  count: number,
  lanes: number,
  fn: (lane: number, index: number) => Promise<void>,
): Promise<{ latenciesMs: number[]; elapsedMs: number }> {
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      while (next < count) {
        const index = next++;
        const t0 = performance.now();
        await fn(lane, index);
        latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  return { latenciesMs, elapsedMs: performance.now() - started };
}
