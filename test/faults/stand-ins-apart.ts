import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export interface StandInEndpoints {
  readonly sqsS3: string;
  readonly dynamodb: string;
}

/** The stand-ins in a process of their own (stand-ins-process.ts), which can be SIGKILLed and started again. */
export interface StandInsApart {
  readonly endpoints: StandInEndpoints;
  /** How many times they were SIGKILLed. */
  readonly kills: number;
  /** SIGKILL mid-run (no chance to flush or close anything), then start again on the same data and ports. */
  killHardAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL("./stand-ins-process.ts", import.meta.url));

async function spawnStandIns(dataDir: string, ports: [string, string]) {
  const child = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "--import", "tsx", SCRIPT, dataDir, ...ports],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const endpoints = await new Promise<StandInEndpoints>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /^ready (.+)$/m.exec(stdout);
      if (match?.[1]) resolve(JSON.parse(match[1]) as StandInEndpoints);
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`the stand-ins exited (${code ?? signal}) before they were ready:\n${stderr}`)),
    );
  });
  return { child, endpoints };
}

const portOf = (endpoint: string) => new URL(endpoint).port;

export async function startStandInsApart(dataDir: string): Promise<StandInsApart> {
  const first = await spawnStandIns(dataDir, ["0", "0"]);
  const { endpoints } = first;
  let { child } = first;
  const ports: [string, string] = [portOf(endpoints.sqsS3), portOf(endpoints.dynamodb)];
  let kills = 0;
  const stopChild = async (process: ChildProcess, signal: NodeJS.Signals) => {
    if (process.exitCode !== null || process.signalCode !== null) return;
    const exited = once(process, "exit");
    process.kill(signal);
    await exited;
  };
  return {
    endpoints,
    get kills() {
      return kills;
    },
    async killHardAndRestart() {
      await stopChild(child, "SIGKILL");
      kills += 1;
      ({ child } = await spawnStandIns(dataDir, ports));
    },
    stop: () => stopChild(child, "SIGTERM"),
  };
}
