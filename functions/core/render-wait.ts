import { ValidationError } from "./errors.js";
import { isTerminal, type Job } from "./job.js";

/**
 * Waiting for a render within one request (`Prefer: wait=N`, `GET …?wait=N`): how long at most, and
 * how often the job is read meanwhile.
 */
export const RENDER_WAIT = {
  /**
   * The longest wait honoured, in seconds; longer ones are cut to it. API Gateway (REST) gives an
   * integration 29 s; the rest is left for the submission, the URL signing and the answer.
   */
  maxSeconds: 25,
  /** Seconds the api function's timeout keeps beyond the longest wait. */
  marginSeconds: 4,
  /** The first pause between reads of the job: a fast render is seen at once. */
  firstDelayMs: 50,
  /** Each pause is this much longer than the one before … */
  growth: 1.5,
  /** … up to this: from then on one read a second. */
  maxDelayMs: 1_000,
} as const;

/**
 * `wait` as sent (a Prefer value or a query parameter): whole seconds ≥ 0, answered as honoured (cut
 * to RENDER_WAIT.maxSeconds); a 400 naming `field` otherwise.
 */
export function parseWaitSeconds(value: string, field: string): number {
  const trimmed = value.trim();
  if (!/^\d{1,9}$/.test(trimmed)) {
    throw new ValidationError([
      {
        field,
        message: `wait must be a whole number of seconds (0–${RENDER_WAIT.maxSeconds}; more is cut to ${RENDER_WAIT.maxSeconds}), not "${trimmed.slice(0, 40)}"`,
      },
    ]);
  }
  return Math.min(Number(trimmed), RENDER_WAIT.maxSeconds);
}

/** The pauses between reads of a wait of `waitMs`: growing, then a second each, summing to `waitMs`. */
export function waitSchedule(waitMs: number): number[] {
  const delays: number[] = [];
  let left = Math.max(0, waitMs);
  let next: number = RENDER_WAIT.firstDelayMs;
  while (left > 0) {
    const delay = Math.min(next, left);
    delays.push(delay);
    left -= delay;
    next = Math.min(RENDER_WAIT.maxDelayMs, Math.round(next * RENDER_WAIT.growth));
  }
  return delays;
}

/** The most reads of the job a wait of `waitMs` makes beyond the record in hand: one after each pause. */
export function maxJobReads(waitMs: number): number {
  return waitSchedule(waitMs).length;
}

export interface WaitTimer {
  /** Epoch milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemTimer: WaitTimer = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/**
 * From the record in hand, reads the job on `waitSchedule` until it is terminal or `waitMs` has
 * passed, and answers the last record read (undefined once it is gone). Time spent reading counts
 * against the wait.
 */
export async function waitForTerminal(
  job: Job,
  readJob: () => Promise<Job | undefined>,
  waitMs: number,
  timer: WaitTimer,
): Promise<Job | undefined> {
  const deadline = timer.now() + waitMs;
  let current: Job | undefined = job;
  for (const delay of waitSchedule(waitMs)) {
    if (!current || isTerminal(current.status)) return current;
    const left = deadline - timer.now();
    if (left <= 0) return current;
    await timer.sleep(Math.min(delay, left));
    current = await readJob();
  }
  return current;
}
