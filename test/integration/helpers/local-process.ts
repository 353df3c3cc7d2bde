import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

export interface LocalProcess {
  readonly child: ChildProcess;
  readonly apiUrl: string;
  /** Everything the process printed on stdout so far. */
  output(): string;
}

/**
 * Starts `npm start`'s entry point as its own process group (so Chromium dies with it when the test
 * kills the group), and resolves once it prints its ready line.
 */
export async function startLocalProcess(env: Record<string, string>): Promise<LocalProcess> {
  const child = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "--import", "tsx", "functions/local/main.ts"],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const apiUrl = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /Kiln local stack ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) =>
      reject(new Error(`local stack exited with ${code} before it was ready:\n${stderr}`)),
    );
  });
  return { child, apiUrl, output: () => stdout };
}

/** SIGKILL to the whole process group: the stack gets no chance to clean up. */
export async function killHard(p: LocalProcess): Promise<void> {
  const exited = once(p.child, "exit");
  process.kill(-(p.child.pid as number), "SIGKILL");
  await exited;
}
