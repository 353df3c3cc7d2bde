/**
 * The client package as an application gets it: built, packed with npm, installed from the tarball
 * into an app outside the repository (offline: the package has no dependencies), type-checked from an
 * ES module and a CommonJS file, then run from a plain .mjs and a plain .cjs script against a local
 * stack, each rendering examples/hello and checking the download against the job's sha256.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildClient, CLIENT_DIR, TSC } from "../../bin/client/build.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";
import { startTestStack, TENANT_A, type TestStack } from "../integration/helpers/local-stack.js";

const run = promisify(execFile);
const JOB = join(REPO_ROOT, "examples/hello/job.json");

/** Renders the job named on the command line and prints what it got; the same in both module systems. */
const RENDER_BODY = `
  const [baseUrl, apiKey, jobPath] = process.argv.slice(2);
  const client = new KilnClient({ baseUrl, apiKey });
  const { id } = await client.submitRender(JSON.parse(readFileSync(jobPath, "utf8")));
  const done = await client.waitFor(id, { timeoutMs: 60_000 });
  const bytes = await client.download(done);
  process.stdout.write(JSON.stringify({
    id, status: done.status, expected: done.output.sha256, bytes: bytes.byteLength,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    errors: [KilnApiError.name, KilnConnectionError.name, typeof verifyWebhook],
  }));`;

const SCRIPTS = {
  "render.mjs": `import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { KilnApiError, KilnClient, KilnConnectionError, verifyWebhook } from "@kiln/client";
${RENDER_BODY}
`,
  "render.cjs": `const { createHash } = require("node:crypto");
const { readFileSync } = require("node:fs");
const { KilnApiError, KilnClient, KilnConnectionError, verifyWebhook } = require("@kiln/client");
(async () => {${RENDER_BODY}
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`,
};

/** Typed use from both module systems: wrong fields must fail, so the declarations are really read. */
const TYPED = `
const client = new KilnClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k" });
export async function check(): Promise<string> {
  const job: RenderSubmissionInput = { template: { html: "<p>x</p>" }, output: { format: "png" } };
  const view: JobView = await client.getRender((await client.submitRender(job)).id);
  // @ts-expect-error: not an output format
  await client.submitRender({ template: { html: "x" }, output: { format: "gif" } });
  return view.output?.sha256 ?? view.status;
}
`;
const TYPED_FILES = {
  "typed.mts": `import { type JobView, KilnClient, type RenderSubmissionInput } from "@kiln/client";\n${TYPED}`,
  "typed.cts": `import { type JobView, KilnClient, type RenderSubmissionInput } from "@kiln/client";\n${TYPED}`,
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      module: "nodenext",
      moduleResolution: "nodenext",
      target: "ES2022",
      lib: ["ES2022", "DOM"],
      types: [],
      strict: true,
      noEmit: true,
    },
    include: ["typed.mts", "typed.cts"],
  }),
};

let app = "";
let packed: { filename: string; files: Array<{ path: string }> };
let ts: TestStack;

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), "kiln-client-app-"));
  await buildClient();
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", app], { cwd: CLIENT_DIR });
  [packed] = JSON.parse(stdout) as [typeof packed];
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "scratch-app", private: true }));
  // --offline: installing the tarball must need no registry.
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(app, packed.filename)], {
    cwd: app,
  });
  for (const [name, text] of Object.entries({ ...SCRIPTS, ...TYPED_FILES })) {
    await writeFile(join(app, name), text);
  }
  ts = await startTestStack();
}, 180_000);

afterAll(async () => {
  await ts?.stop();
  if (app) await rm(app, { recursive: true, force: true });
});

describe("the @kiln/client package", () => {
  it("packs only built files: bundles for import and require and their declarations", () => {
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toContain("dist/index.mjs");
    expect(files).toContain("dist/index.cjs");
    expect(files).toContain("dist/index.d.mts");
    expect(files).toContain("dist/index.d.cts");
    expect(files.filter((f) => !/^(package\.json|dist\/[\w-]+\.(mjs|cjs|d\.mts|d\.cts))$/.test(f))).toEqual(
      [],
    );
  });

  it("installs with no dependencies and resolves to the ES module for import, CommonJS for require", async () => {
    const lock = JSON.parse(await readFile(join(app, "package-lock.json"), "utf8"));
    expect(Object.keys(lock.packages).sort()).toEqual(["", "node_modules/@kiln/client"]);
    const { stdout } = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'import { createRequire } from "node:module"; console.log(import.meta.resolve("@kiln/client")); console.log(createRequire(import.meta.url).resolve("@kiln/client"));',
      ],
      { cwd: app },
    );
    const [esm, cjs] = stdout.trim().split("\n");
    expect(esm).toBe(`file://${join(app, "node_modules/@kiln/client/dist/index.mjs")}`);
    expect(cjs).toBe(join(app, "node_modules/@kiln/client/dist/index.cjs"));
  });

  it("type-checks an application's ES module and CommonJS files against its declarations", async () => {
    const result = await run(process.execPath, [TSC, "-p", app]).catch(
      (err: { stdout: string; code: number }) => err,
    );
    expect("code" in result ? result.stdout : "").toBe("");
  });

  for (const script of Object.keys(SCRIPTS)) {
    it(`renders examples/hello from a plain ${script} and downloads exactly the job's output`, async () => {
      const { stdout } = await run(process.execPath, [script, ts.stack.apiUrl, TENANT_A.apiKey, JOB], {
        cwd: app,
      });
      const result = JSON.parse(stdout);
      expect(result.status).toBe("succeeded");
      expect(result.bytes).toBeGreaterThan(1000);
      expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(result.sha256).toBe(result.expected);
      expect(result.errors).toEqual(["KilnApiError", "KilnConnectionError", "function"]);
      const job = await ts.clientA.getRender(result.id);
      expect(job.output?.sha256).toBe(result.sha256);
    });
  }
});
