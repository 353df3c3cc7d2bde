/** What every `kiln` command shares: exit codes and the error that means "you called it wrong". */
export const EXIT = {
  ok: 0,
  jobFailed: 1,
  usage: 2,
  infra: 3,
  /** `kiln status`: the job is still queued or rendering. */
  pending: 4,
} as const;

export class UsageError extends Error {}

/** `--timeout SECONDS` in milliseconds. */
export function timeoutMsOf(seconds: string): number {
  const ms = Number(seconds) * 1000;
  if (!(ms > 0)) throw new UsageError("--timeout must be a positive number of seconds");
  return ms;
}

export interface Command {
  /** One line for `kiln --help`. */
  readonly summary: string;
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}
