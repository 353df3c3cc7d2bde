/**
 * The artifacts tier fails, naming what is wrong, when an artifact is broken: a Handler that points
 * nowhere, a bundle without its module, a layer with a file missing, a function whose init throws, a
 * process that cannot start. Each case is a copy of the synthesized artifact with one thing changed.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  LocalBinding,
  SynthesizedFunction,
  SynthesizedStack,
} from "../../bin/artifacts/cloud-assembly.js";
import { resolvedEnvironment } from "../../bin/artifacts/local-deployment.js";
import {
  assertSandboxAvailable,
  type SandboxedFunction,
  sandboxSpecOf,
  startSandboxedFunction,
} from "../../bin/artifacts/sandbox.js";
import { synthesizeKiln } from "../../bin/artifacts/synth.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";

let scratch: string;
let stack: SynthesizedStack;
const started: SandboxedFunction[] = [];

// Synthesis bundles every function and builds the layer: minutes, not seconds, on a busy 2-core machine.
beforeAll(() => {
  assertSandboxAvailable();
  scratch = mkdtempSync(join(tmpdir(), "kiln-artifacts-broken-"));
  stack = synthesizeKiln(join(scratch, "cdk.out"));
}, 600_000);

afterAll(async () => {
  await Promise.all(started.map((f) => f.stop()));
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/**
 * Every token resolves to a placeholder: these functions never get as far as calling a resource, but
 * their configuration parses, so what fails is the broken part and nothing else.
 */
function placeholderEnvironment(fn: SynthesizedFunction): Record<string, string> {
  const bindings = new Map<string, LocalBinding>(
    stack.resources.map((r) => [
      r.logicalId,
      {
        ref: `${r.logicalId.toLowerCase()}-placeholder`,
        attributes: {
          Arn: `arn:aws:local:us-east-1:000000000000:${r.logicalId}`,
          DomainName: "cdn.invalid",
          // The signer's configuration asks for a PEM; this one is never used.
          PublicKeyPem: "-----BEGIN PUBLIC KEY-----placeholder",
        },
      },
    ]),
  );
  return resolvedEnvironment(fn, bindings, "cdn.invalid", {});
}

/** Starts `fn` in the sandbox and returns why its init failed (or fails the test if it did not). */
async function initFailure(
  fn: SynthesizedFunction,
  environment = placeholderEnvironment(fn),
): Promise<Error> {
  const sandboxed = await startSandboxedFunction(sandboxSpecOf(fn, environment, { region: "us-east-1" }));
  started.push(sandboxed);
  const error = await sandboxed.initialized.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error(`${fn.logicalId} initialized although its artifact is broken.`);
  // An invocation of the broken environment fails with the same reason instead of hanging.
  await expect(sandboxed.invoke({})).rejects.toThrow(error.message);
  return error;
}

/** A copy of `from` made of hard links (the layer is 200 MB), without the files `leaveOut` names. */
function linkCopy(from: string, to: string, leaveOut: readonly string[]): void {
  for (const entry of readdirSync(from, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const source = join(entry.parentPath, entry.name);
    const path = relative(from, source);
    if (leaveOut.includes(path)) continue;
    mkdirSync(dirname(join(to, path)), { recursive: true });
    try {
      linkSync(source, join(to, path));
    } catch {
      copyFileSync(source, join(to, path));
    }
  }
}

describe("a broken artifact fails the tier with a message naming what is broken", () => {
  it("names a Handler that points to no export", async () => {
    const signer = stack.functionAt("Signer/SignAssets");
    const error = await initFailure({ ...signer, handler: "index.signAssets" });
    expect(error.message).toContain(`${signer.logicalId} failed to initialize`);
    expect(error.message).toContain("Runtime.HandlerNotFound");
    expect(error.message).toContain("index.signAssets");
  });

  it("names a Handler whose module is not in the bundle", async () => {
    const signer = stack.functionAt("Signer/SignAssets");
    const bundle = join(scratch, "signer-without-index");
    linkCopy(signer.codeDir, bundle, ["index.mjs"]);
    const error = await initFailure({ ...signer, codeDir: bundle });
    expect(error.message).toContain("Runtime.ImportModuleError");
    expect(error.message).toContain("Cannot find module 'index'");
    expect(error.message).toContain("index.handler");
  });

  it("names the file a layer is missing", async () => {
    const worker = stack.functionAt("RenderWorker/Worker");
    const [layer] = worker.layers;
    const missing = "nodejs/node_modules/@sparticuz/chromium/build/index.js";
    const broken = join(scratch, "layer-without-chromium-entry");
    linkCopy(String(layer?.dir), broken, [missing]);
    const error = await initFailure({ ...worker, layers: [{ logicalId: "BrokenLayer", dir: broken }] });
    expect(error.message).toContain(`${worker.logicalId} failed to initialize`);
    // The worker's main chunk imports the package; its entry loads that chunk.
    expect(error.message).toContain(
      `Cannot find module '/opt/${missing}' imported from /var/task/main.chunk.mjs`,
    );
  });

  it("names the function and the reason when its init throws, with the stack in the TypeScript sources", async () => {
    const signer = stack.functionAt("Signer/SignAssets");
    const { KILN_CLOUDFRONT_KEY_PAIR_ID: _left, ...environment } = placeholderEnvironment(signer);
    const error = await initFailure(signer, environment);
    expect(error.message).toContain(`${signer.logicalId} failed to initialize`);
    expect(error.message).toContain("KILN_CLOUDFRONT_KEY_PAIR_ID is not set");
    expect(error.stack).toMatch(/functions\/handlers\/function-definition\.ts:\d+:\d+/);
  });

  it("names the function and how its process ended when node cannot start", async () => {
    const signer = stack.functionAt("Signer/SignAssets");
    const error = await initFailure(signer, {
      ...placeholderEnvironment(signer),
      NODE_OPTIONS: "--no-such-flag",
    });
    expect(error.message).toContain(`${signer.logicalId} exited (code 9) in the sandbox`);
    expect(error.message).toContain("--no-such-flag is not allowed in NODE_OPTIONS");
  });

  it("says in one sentence what the sandbox needs where the machine refuses namespaces", () => {
    const check = `import("./bin/artifacts/sandbox.ts").then((m) => m.assertSandboxAvailable()).catch((e) => { console.log(e.message); process.exitCode = 1; });`;
    const node = [process.execPath, "--import", "tsx", "--input-type=module", "-e", check];
    // A user namespace whose limit of nested user namespaces is 0: the sandbox's own cannot be made.
    const refused = spawnSync(
      "unshare",
      [
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
        "sh",
        ...node,
      ],
      { cwd: REPO_ROOT, encoding: "utf8" },
    );
    expect(refused.status).toBe(1);
    expect(refused.stdout.trim()).toMatch(
      /^The Lambda-shaped sandbox needs util-linux unshare and unprivileged user, mount and pid namespaces, nested once \(.*No space left on device.*\); allow them .* or run where they are allowed\.$/,
    );
    // No unshare at all.
    const missing = spawnSync(node[0] as string, node.slice(1), {
      cwd: REPO_ROOT,
      env: { PATH: "/nonexistent" },
      encoding: "utf8",
    });
    expect(missing.status).toBe(1);
    expect(missing.stdout.trim()).toMatch(/^The Lambda-shaped sandbox needs .*ENOENT.*\.$/);
  });
});
