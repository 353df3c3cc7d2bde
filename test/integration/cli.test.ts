import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the installed `kiln` bin with an embedded local stack in a fresh data dir. */
async function kiln(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/kiln.mjs", ...args], {
      env: { ...process.env, KILN_DATA_DIR: join(dir, "data") },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("kiln render", () => {
  it("renders the example through an embedded local stack and prints path, sha256 and time", async () => {
    const out = join(dir, "hello.png");
    const { code, stdout } = await kiln("render", "examples/hello/job.json", "--out", out);
    expect(code).toBe(0);
    const [path, sha, summary] = stdout.trim().split("\n");
    expect(path).toBe(out);
    expect(sha).toMatch(/^sha256 [0-9a-f]{64}$/);
    expect(summary).toMatch(/^\d+ bytes, image\/png, \d+\.\d\d s$/);
    const png = PNG.sync.read(await readFile(out));
    expect([png.width, png.height]).toEqual([1200, 800]);
  });

  it("exits 1 with the job's error when the render fails, and 2 naming each bad field", async () => {
    const broken = join(dir, "broken.json");
    await writeFile(broken, JSON.stringify({ template: { html: "{% if %}" }, output: { format: "png" } }));
    const failed = await kiln("render", broken, "--out", join(dir, "never.png"));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("template_error");

    const invalid = join(dir, "invalid.json");
    await writeFile(
      invalid,
      JSON.stringify({ template: { html: "<p>x</p>" }, output: { format: "gif", colour: 1 } }),
    );
    const refused = await kiln("render", invalid);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("output.format");
    expect(refused.stderr).toContain("output.colour: unknown field");

    expect((await kiln("render")).code).toBe(2);
    expect((await kiln("frobnicate")).code).toBe(2);
  });
});
