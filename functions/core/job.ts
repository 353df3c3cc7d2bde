import type { RenderRequest } from "./render-request.js";

export type JobStatus = "queued" | "rendering" | "succeeded" | "failed";

export interface JobOutput {
  readonly key: string;
  readonly contentType: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface JobFailure {
  readonly code: string;
  readonly message: string;
}

export interface Job {
  readonly tenant: string;
  readonly id: string;
  readonly status: JobStatus;
  /** ISO-8601 instants. */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Render attempts started so far. */
  readonly attempts: number;
  readonly request: RenderRequest;
  readonly output?: JobOutput;
  readonly error?: JobFailure;
}

/**
 * The job state machine. `rendering → rendering` is a new attempt after a worker died or a transient
 * failure; nothing ever leaves a terminal state.
 */
const NEXT: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ["rendering", "failed"],
  rendering: ["rendering", "succeeded", "failed"],
  succeeded: [],
  failed: [],
};

export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed"];

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return NEXT[from].includes(to);
}

/** The states a job may be in for a move to `to` to be legal: the condition of every store write. */
export function statusesAllowedBefore(to: JobStatus): JobStatus[] {
  return (Object.keys(NEXT) as JobStatus[]).filter((from) => canTransition(from, to));
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
