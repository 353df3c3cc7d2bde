/**
 * Runs a synthesized Lambda bundle the way Lambda's nodejs22.x runtime runs it, on this machine: in
 * unprivileged user, mount and pid namespaces (no root needed; works as root too), a fresh root on a
 * tmpfs with /usr bound read-only, a /proc of its own and Lambda's few devices, the bundle read-only at
 * /var/task, the layer read-only at /opt, only a fresh 512 MB tmpfs /tmp writable, as the non-root user
 * 993 (with an /etc/passwd entry, as Lambda has), Node 22 at /var/lang/bin/node started with the
 * runtime bootstrap's flags, and only Lambda's variables plus the function's own. The network namespace
 * is the host's, so the function reaches the stand-ins on 127.0.0.1. A small runtime loop
 * (runtime/bootstrap.mjs) talks to a local Runtime API (runtime-api.ts).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SynthesizedFunction } from "./cloud-assembly.js";
import { type RuntimeApi, startRuntimeApi } from "./runtime-api.js";

/** The runtime every Kiln function is synthesized for; the sandbox runs no other. */
export const SANDBOX_RUNTIME = "nodejs22.x";
const RUNTIME_DIR = fileURLToPath(new URL("./runtime/", import.meta.url));
/** Lambda's sandbox user. */
const SANDBOX_UID = 993;
const SANDBOX_GID = 990;
const TMP_BYTES = "512m";

export interface SandboxedFunctionSpec {
  /** AWS_LAMBDA_FUNCTION_NAME. */
  readonly functionName: string;
  /** The synthesized Handler, e.g. `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  /** The bundle directory, bound read-only at /var/task. */
  readonly codeDir: string;
  /** Layer directories; their contents go at /opt (read-only). */
  readonly layerDirs: readonly string[];
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** The function's resolved environment plus endpoint overrides; Lambda's own variables are added. */
  readonly environment: Readonly<Record<string, string>>;
  readonly region: string;
  /**
   * /etc/hosts entries besides localhost, name → address: the names local endpoints go by (as
   * `sqs.<region>.amazonaws.com` resolves on Lambda). @default {}
   */
  readonly hosts?: Readonly<Record<string, string>>;
}

/** The spec of a synthesized function's sandbox: its bundle, layers and settings as the template gives them. */
export function sandboxSpecOf(
  fn: SynthesizedFunction,
  environment: Readonly<Record<string, string>>,
  place: Pick<SandboxedFunctionSpec, "region" | "hosts">,
): SandboxedFunctionSpec {
  return {
    functionName: fn.logicalId,
    handler: fn.handler,
    runtime: fn.runtime,
    codeDir: fn.codeDir,
    layerDirs: fn.layers.map((l) => l.dir),
    memorySize: fn.memorySize,
    timeoutSeconds: fn.timeoutSeconds,
    environment,
    ...place,
  };
}

export interface SandboxOptions {
  /** Passes `--report-marks` to the runtime loop (kiln bench --cold). */
  readonly reportMarks?: boolean;
  /** Hears each line the function writes to stdout and stderr, as it comes. */
  readonly onOutput?: (stream: "stdout" | "stderr", line: string) => void;
}

export interface SandboxExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SandboxedFunction {
  readonly functionName: string;
  /** Resolves when the function's init finished; rejects with its init error or its process's exit. */
  readonly initialized: Promise<void>;
  /** Resolves with the reason once the environment is gone (its process exited, or it timed out). */
  readonly died: Promise<Error>;
  /** `qualifier`: the alias the caller invoked, as the function's invoked ARN shows it. */
  invoke(event: unknown, qualifier?: string): Promise<unknown>;
  /** Lines written to stdout so far. */
  stdoutLines(): readonly string[];
  /** Lines written to stderr so far. */
  stderrLines(): readonly string[];
  /** stdout lines that are JSON objects (the functions' structured logs). */
  logRecords(): ReadonlyArray<Record<string, unknown>>;
  /** When the process was spawned (performance.now() of this process). */
  readonly spawnedAt: number;
  /** Ends the environment: its process group is killed and its namespace with it. */
  stop(): Promise<SandboxExit>;
}

let namespacesChecked = false;

/** The namespaces the sandbox is set up in (a fresh root is mounted there), and the probe checks. */
const OUTER_NAMESPACES = ["--user", "--map-root-user", "--mount", "--pid", "--fork"] as const;

/**
 * Throws one sentence saying what the sandbox needs when this machine refuses unprivileged user and
 * mount namespaces, or lacks unshare.
 */
export function assertSandboxAvailable(): void {
  if (namespacesChecked) return;
  // The same nesting the sandbox uses: a user, mount and pid namespace, and in it a second user
  // namespace for uid 993 (AppArmor or seccomp may allow the one and refuse the other).
  const probe = spawnSync(
    "unshare",
    [
      ...OUTER_NAMESPACES,
      "unshare",
      "--user",
      `--map-user=${SANDBOX_UID}`,
      `--map-group=${SANDBOX_GID}`,
      "true",
    ],
    { encoding: "utf8" },
  );
  if (probe.error || probe.status !== 0) {
    const why = probe.error?.message ?? (probe.stderr.trim() || `exit status ${probe.status}`);
    throw new Error(
      `The Lambda-shaped sandbox needs util-linux unshare and unprivileged user, mount and pid namespaces, nested once (\`unshare ${OUTER_NAMESPACES.join(" ")} unshare --user --map-user=${SANDBOX_UID} true\` failed here: ${why}); allow them (kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 1, no AppArmor restriction of unprivileged user namespaces) or run where they are allowed.`,
    );
  }
  namespacesChecked = true;
}

/** The Node binary the sandbox binds at /var/lang/bin/node: this process's own, if it is Node 22. */
export function sandboxNodeBinary(runtime: string): string {
  const wanted = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  if (runtime !== SANDBOX_RUNTIME || wanted === undefined) {
    throw new Error(
      `The sandbox runs ${SANDBOX_RUNTIME} functions only; this one is synthesized for ${runtime}.`,
    );
  }
  const major = process.versions.node.split(".")[0];
  if (major !== wanted) {
    throw new Error(
      `${runtime} needs Node ${wanted}, but this is Node ${process.versions.node}: run with the project's Node (npx node, or npm scripts).`,
    );
  }
  return realpathSync(process.execPath);
}

/**
 * What Lambda sets for a nodejs22.x function, reserved ones last so the function's environment cannot
 * override them (as on Lambda). PATH, LD_LIBRARY_PATH and NODE_PATH are the runtime's defaults.
 */
export function lambdaEnvironment(spec: SandboxedFunctionSpec, runtimeApi: string): Record<string, string> {
  const today = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  return {
    PATH: "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    LD_LIBRARY_PATH:
      "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    NODE_PATH:
      "/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
    LANG: "en_US.UTF-8",
    TZ: ":UTC",
    ...spec.environment,
    // Dummy credentials: the stand-ins accept any; a real key must never reach a sandbox.
    AWS_ACCESS_KEY_ID: "ASIAKILNSANDBOX00000",
    AWS_SECRET_ACCESS_KEY: "kiln-sandbox-secret",
    AWS_SESSION_TOKEN: "kiln-sandbox-session",
    AWS_REGION: spec.region,
    AWS_DEFAULT_REGION: spec.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${today}/[$LATEST]${randomBytes(16).toString("hex")}`,
    AWS_LAMBDA_RUNTIME_API: runtimeApi,
    LAMBDA_TASK_ROOT: "/var/task",
    LAMBDA_RUNTIME_DIR: "/var/runtime",
    _HANDLER: spec.handler,
  };
}

/** The flags Lambda's nodejs runtime bootstrap starts node with, heap sized from the memory setting. */
export function lambdaNodeFlags(memorySize: number): string[] {
  const newSpace = Math.floor(memorySize / 10);
  return [
    "--expose-gc",
    "--max-http-header-size",
    "81920",
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memorySize - newSpace}`,
  ];
}

/**
 * Run inside the first namespace (root there): builds the fresh root and enters a second user namespace
 * as uid 993, chrooted into it. `$1` root mount point, `$2` bundle, `$3` layer or "", `$4` node binary,
 * `$5` runtime dir, `$6` /etc/hosts; the rest is the command.
 */
const SETUP_SCRIPT = String.raw`set -eu
R="$1"; TASK="$2"; OPT="$3"; NODE="$4"; RUNTIME="$5"; HOSTS="$6"; shift 6
m() { /usr/bin/mount "$@"; }
m -t tmpfs -o size=16m,mode=755 kiln-root "$R"
cd "$R"
/usr/bin/mkdir -p usr var/task opt tmp proc dev sys etc var/lang/bin var/runtime
/usr/bin/ln -s usr/bin bin; /usr/bin/ln -s usr/lib lib; /usr/bin/ln -s usr/lib64 lib64; /usr/bin/ln -s usr/sbin sbin
m --bind -o ro /usr usr
# Its own pid namespace's /proc; /dev with Lambda's few devices (no /dev/shm there either); /sys and
# /proc/sys read-only. Inside, uid 993 maps to the caller, who may be root: nothing writable may reach
# the host beyond /tmp.
m -t proc -o nosuid,nodev,noexec proc proc
m --bind -o ro proc/sys proc/sys
m -t tmpfs -o size=64k,mode=755 kiln-dev dev
for d in null zero full random urandom; do /usr/bin/touch "dev/$d"; m --bind "/dev/$d" "dev/$d"; done
/usr/bin/ln -s /proc/self/fd dev/fd; /usr/bin/ln -s /proc/self/fd/0 dev/stdin
/usr/bin/ln -s /proc/self/fd/1 dev/stdout; /usr/bin/ln -s /proc/self/fd/2 dev/stderr
m --rbind /sys sys
m -o remount,ro,bind sys
m --bind -o ro "$TASK" var/task
if [ -n "$OPT" ]; then m --bind -o ro "$OPT" opt; fi
/usr/bin/touch var/lang/bin/node
m --bind -o ro "$NODE" var/lang/bin/node
m --bind -o ro "$RUNTIME" var/runtime
printf 'root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:${SANDBOX_UID}:${SANDBOX_GID}::/home/sbx_user1051:/sbin/nologin\n' > etc/passwd
printf 'root:x:0:\nsbx_user1051:x:${SANDBOX_GID}:\n' > etc/group
printf '%s' "$HOSTS" > etc/hosts
/usr/bin/cp /etc/ld.so.cache etc/ld.so.cache
m -t tmpfs -o size=${TMP_BYTES},mode=1777 kiln-tmp tmp
m -o remount,ro,bind "$R"
cd /
exec /usr/bin/unshare --user --map-user=${SANDBOX_UID} --map-group=${SANDBOX_GID} --root="$R" --wd=/var/task "$@"
`;

export async function startSandboxedFunction(
  spec: SandboxedFunctionSpec,
  options: SandboxOptions = {},
): Promise<SandboxedFunction> {
  assertSandboxAvailable();
  const node = sandboxNodeBinary(spec.runtime);
  if (spec.layerDirs.length > 1) {
    throw new Error(
      `${spec.functionName} has ${spec.layerDirs.length} layers; the sandbox binds one at /opt.`,
    );
  }
  let child: ChildProcess | undefined;
  const runtimeApi: RuntimeApi = await startRuntimeApi({
    functionName: spec.functionName,
    region: spec.region,
    timeoutMs: spec.timeoutSeconds * 1000,
    // Lambda discards an environment whose invocation timed out.
    onTimeout: () => killGroup(child),
  });
  const mountPoint = mkdtempSync(join(tmpdir(), "kiln-sandbox-"));
  const stdout: string[] = [];
  const stderr: string[] = [];
  const spawnedAt = performance.now();
  child = spawn(
    "unshare",
    [
      ...OUTER_NAMESPACES,
      "--propagation",
      "private",
      "/bin/sh",
      "-c",
      SETUP_SCRIPT,
      "kiln-sandbox",
      mountPoint,
      spec.codeDir,
      spec.layerDirs[0] ?? "",
      node,
      RUNTIME_DIR,
      Object.entries({ localhost: "127.0.0.1", ...spec.hosts })
        .map(([name, address]) => `${address} ${name}\n`)
        .join(""),
      "/var/lang/bin/node",
      ...lambdaNodeFlags(spec.memorySize),
      "/var/runtime/bootstrap.mjs",
      ...(options.reportMarks ? ["--report-marks"] : []),
    ],
    {
      env: lambdaEnvironment(spec, runtimeApi.address),
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so stop() reaches Chromium's processes too.
      detached: true,
    },
  );
  const collect = (stream: "stdout" | "stderr", into: string[]) => {
    let partial = "";
    child?.[stream]?.setEncoding("utf8");
    child?.[stream]?.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        into.push(line);
        options.onOutput?.(stream, line);
      }
    });
    child?.[stream]?.on("end", () => {
      if (partial) {
        into.push(partial);
        options.onOutput?.(stream, partial);
      }
    });
  };
  collect("stdout", stdout);
  collect("stderr", stderr);

  const exited = new Promise<SandboxExit>((resolve) => {
    child?.once("exit", (code, signal) => {
      // Whatever the function left running (Chromium) goes with it, as with a Lambda environment.
      killGroup(child);
      resolve({ code, signal });
    });
  });
  const died = exited.then(({ code, signal }) => {
    const tail = stderr.slice(-15).join("\n");
    const error = new Error(
      `${spec.functionName} exited (${signal ? `signal ${signal}` : `code ${code}`}) in the sandbox${tail ? `: ${tail}` : "."}`,
    );
    runtimeApi.fail(error);
    return error;
  });
  const cleanUp = died.then(async () => {
    await runtimeApi.stop();
    rmSync(mountPoint, { recursive: true, force: true });
  });

  return {
    functionName: spec.functionName,
    initialized: runtimeApi.initialized,
    died,
    spawnedAt,
    invoke: (event, qualifier) => runtimeApi.invoke(event, qualifier),
    stdoutLines: () => stdout,
    stderrLines: () => stderr,
    logRecords: () => stdout.flatMap((line) => parseRecord(line)),
    stop: async () => {
      killGroup(child);
      const exit = await exited;
      await cleanUp;
      return exit;
    },
  };
}

/** Kills the sandbox's process group (its pid is the group's id, from `detached`). */
function killGroup(child: ChildProcess | undefined): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function parseRecord(line: string): Array<Record<string, unknown>> {
  if (!line.startsWith("{")) return [];
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed)
      ? [parsed as Record<string, unknown>]
      : [];
  } catch {
    return [];
  }
}
