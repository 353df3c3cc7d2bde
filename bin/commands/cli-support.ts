import { readFile } from "node:fs/promises";

/**
 * What every `kiln` command shares: exit codes, the errors that mean "you called it wrong" and "what
 * you gave is wrong", and reading the files a command is given.
 */
export const EXIT = {
  ok: 0,
  jobFailed: 1,
  usage: 2,
  infra: 3,
  /** `kiln status`: the job is still queued or rendering. */
  pending: 4,
} as const;

/** The command was called wrong: exit 2, followed by the usage text. */
export class UsageError extends Error {}

/** A file the command was given is wrong (unreadable, not JSON): exit 2, naming the file, no usage text. */
export class InputError extends Error {}

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

/** A file the command was given, as text. */
export async function readInputFile(path: string): Promise<string>;
export async function readInputFile(path: string, encoding: null): Promise<Buffer>;
export async function readInputFile(
  path: string,
  encoding: "utf8" | null = "utf8",
): Promise<string | Buffer> {
  try {
    return await readFile(path, encoding);
  } catch (err) {
    throw new InputError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** A JSON file the command was given; a syntax error is named by place, `job.json:3:14: …`. */
export async function readJsonFile(path: string): Promise<unknown> {
  const text = await readInputFile(path);
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    // V8 gives the position for most syntax errors, not for "Unexpected token": then find it.
    const given = /at position (\d+)/.exec(message)?.[1];
    const at = given === undefined ? (jsonErrorOffset(text) ?? text.length) : Number(given);
    const before = text.slice(0, at);
    const line = before.split("\n").length;
    const column = at - before.lastIndexOf("\n");
    const reason = message.replace(/ in JSON at position \d+.*$/s, "").replace(/, (?:\.\.\.)?".*$/s, "");
    throw new InputError(`${path}:${line}:${column}: not valid JSON: ${reason}`);
  }
}

/** Where JSON parsing of `text` first fails, or undefined when it does not. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  const digits = () => {
    if (!/[0-9]/.test(text[i] ?? "")) fail();
    while (/[0-9]/.test(text[i] ?? "")) i++;
  };
  const scalar = () => {
    for (const word of ["true", "false", "null"]) {
      if (text[i] !== word[0]) continue;
      for (const c of word) {
        if (text[i] !== c) fail();
        i++;
      }
      return;
    }
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else digits();
    if (text[i] === ".") {
      i++;
      digits();
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      digits();
    }
  };
  // Character by character, so that the failure is placed where the string goes wrong.
  const string = () => {
    if (text[i] !== '"') fail();
    for (i++; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail();
      if (c !== 0x5c) continue;
      i++;
      if (text[i] === "u") {
        for (let k = 0; k < 4; k++) if (!/[0-9a-fA-F]/.test(text[++i] ?? "")) fail();
      } else if (!'"\\/bfnrt'.includes(text[i] ?? "?")) fail();
    }
    fail();
  };
  const members = (close: string, member: () => void) => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      member();
      ws();
      if (text[i] === close) break;
      if (text[i] !== ",") fail();
      i++;
    }
    i++;
  };
  const property = () => {
    ws();
    string();
    ws();
    if (text[i] !== ":") fail();
    i++;
    value();
  };
  const value = (): void => {
    ws();
    if (text[i] === "{") members("}", property);
    else if (text[i] === "[") members("]", value);
    else if (text[i] === '"') string();
    else scalar();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (at) {
    if (typeof at === "number") return at;
    throw at;
  }
}
