import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The `kiln` bin as a child process (stdout is a pipe, so progress comes as plain lines). */
export async function runKiln(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/kiln.mjs", ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
