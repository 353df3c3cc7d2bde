import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gate, startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

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
    await writeFile(
      broken,
      JSON.stringify({ template: { html: "{{ 'logo' | asset_url }}" }, output: { format: "png" } }),
    );
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

describe("kiln assets put", () => {
  it("uploads a small file through the API and a 5 MiB one by presigned URL, printing size, type and sha256", async () => {
    const small = join(dir, "dot.svg");
    await writeFile(small, '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
    // 5 MiB is more than PUT /v1/assets/{key} takes (413): only the upload URL can store it.
    const large = join(dir, "large.css");
    await writeFile(large, `/*${"x".repeat(5 * 1024 * 1024)}*/`);
    for (const [file, key, type] of [
      [small, "cli/dot.svg", "image/svg+xml"],
      [large, "cli/large.css", "text/css"],
    ] as const) {
      const body = await readFile(file);
      const put = await kiln("assets", "put", file, key);
      expect({ key, code: put.code }, put.stderr).toEqual({ key, code: 0 });
      const sha256 = createHash("sha256").update(body).digest("hex");
      expect(put.stdout).toBe(`${key}\n${body.byteLength} bytes, ${type}, sha256 ${sha256}\n`);
    }
  });
});

/** A 127.0.0.1 URL where nothing listens: a port that was free a moment ago. */
async function closedApiUrl(): Promise<string> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return `http://127.0.0.1:${port}`;
}

describe("kiln input and connection errors", () => {
  it("names the file, line and column of a JSON syntax error, without the usage text", async () => {
    const job = join(dir, "syntax.json");
    await writeFile(job, '{\n  "output": {"format": "png"},\n  "data": {"total": }\n}\n');
    const { code, stderr } = await kiln("render", job);
    expect(code).toBe(2);
    expect(stderr).toBe(`kiln: ${job}:3:21: not valid JSON: Unexpected token '}'\n`);
  });

  it("says which URL it cannot reach and why, and exits 3", async () => {
    const job = join(dir, "unreachable", "job.json");
    await mkdir(dirname(job));
    await writeFile(job, JSON.stringify({ template: { html: "<p>x</p>" }, output: { format: "png" } }));
    const api = await closedApiUrl();
    const { code, stderr } = await kiln("render", job, "--api", api, "--api-key", "k");
    expect(code).toBe(3);
    expect(stderr).toBe(`kiln: cannot reach ${api}/v1/renders (ECONNREFUSED)\n`);
  });
});

describe("kiln templates", () => {
  it("pushes versions and lists the tenant's templates and one template's versions", async () => {
    const html = join(dir, "ticket.html");
    await writeFile(html, "<p>{{ guest }}</p>");
    const first = await kiln("templates", "push", "ticket", html);
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe("ticket@1 created");
    await writeFile(html, "<p>Guest: {{ guest }}</p>");
    expect((await kiln("templates", "push", "ticket", html, "--javascript")).stdout.trim()).toBe(
      "ticket@2 created",
    );

    const all = await kiln("templates", "list");
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^ticket@2 {2}\S+ {2}\d+ bytes$/m);
    const versions = await kiln("templates", "list", "ticket");
    expect(
      versions.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[0]),
    ).toEqual(["ticket@1", "ticket@2"]);

    const wrong = await kiln("templates", "pull", "ticket");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("kiln templates push <id> <file.html>");
  });
});

describe("kiln status", () => {
  let ts: TestStack;
  const held = gate();
  beforeAll(async () => {
    // Renders of a page that says HOLD wait here, so that job is provably still in flight.
    ts = await startTestStack({
      faults: {
        beforeRender: async (html) => (html.includes("HOLD") ? held.opened.then(() => undefined) : undefined),
      },
    });
  });
  afterAll(async () => {
    held.open();
    await ts?.stop();
  });

  /** `kiln status` against the test stack, with extra environment. */
  async function status(args: string[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await run(process.execPath, ["bin/kiln.mjs", "status", ...args], {
        env: { ...process.env, KILN_DATA_DIR: join(dir, "status-data"), ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }
  const api = () => ["--api", ts.stack.apiUrl, "--api-key", TENANT_A.apiKey];
  const job = (html: string) => ({
    template: { html },
    output: { format: "png" as const, width: 200, height: 100 },
  });

  it("prints a succeeded job with its output and exits 0; --json prints the API's view", async () => {
    const { id } = await ts.clientA.submitRender(job("<p>status</p>"));
    const done = await ts.clientA.waitFor(id);
    expect(done.status).toBe("succeeded");

    const shown = await status([id, ...api()]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`job ${id}  succeeded`);
    expect(shown.stdout).toContain(`sha256 ${done.output?.sha256}`);
    expect(shown.stdout).toMatch(new RegExp(`url +${ts.stack.edgeUrl}/outputs/`));

    const raw = await status([id, "--json"], {
      KILN_API_URL: ts.stack.apiUrl,
      KILN_API_KEY: TENANT_A.apiKey,
    });
    expect(raw.code).toBe(0);
    expect(JSON.parse(raw.stdout)).toMatchObject({ id, status: "succeeded", attempts: 1 });
  });

  it("exits 1 with the failure's code, 4 while the job is in flight, 2 for an unknown id", async () => {
    const { id: failedId } = await ts.clientA.submitRender(job("{{ 'logo' | asset_url }}"));
    expect((await ts.clientA.waitFor(failedId)).status).toBe("failed");
    const failed = await status([failedId, ...api()]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/error +template_error: /);

    const { id: heldId } = await ts.clientA.submitRender(job("<p>HOLD</p>"));
    const pending = await status([heldId, ...api()]);
    expect(pending.code).toBe(4);
    expect(pending.stdout).toMatch(new RegExp(`job ${heldId}  (queued|rendering)`));

    const unknown = await status(["00000000-0000-4000-8000-000000000000", ...api()]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no render job 00000000-0000-4000-8000-000000000000");
    expect((await status([])).code).toBe(2);
  });

  it("finds the running local stack of the data dir, and exits 3 when Kiln cannot be reached", async () => {
    const { id } = await ts.clientA.submitRender(job("<p>local</p>"));
    await ts.clientA.waitFor(id);
    const local = await status([id], { KILN_DATA_DIR: ts.dataDir, KILN_API_KEY: TENANT_A.apiKey });
    expect(local.code).toBe(0);
    expect(local.stdout).toContain(`job ${id}  succeeded`);

    const api = await closedApiUrl();
    const closed = await status([id, "--api", api, "--api-key", TENANT_A.apiKey]);
    expect(closed.code).toBe(3);
    expect(closed.stderr).toBe(`kiln: cannot reach ${api}/v1/renders/${id} (ECONNREFUSED)\n`);
  });
});
