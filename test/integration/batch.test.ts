import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchManifest } from "../../functions/core/batches.js";
import { RENDERER } from "../../functions/core/renderer-identity.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { runKiln } from "./helpers/kiln-cli.js";
import { startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

const run = promisify(execFile);
const RECORDS = 2000;
const TEMPLATE = `<!doctype html><html><body style="margin:0;width:240px;height:120px;font:16px sans-serif">
<div style="padding:8px">Ticket #{{ n }}<br>{{ name }}</div></body></html>`;

let ts: TestStack;
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-batch-"));
  ts = await startTestStack({ batchSize: 10 });
}, 120_000);
afterAll(async () => {
  await ts?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** `kiln` with a data dir of its own, so it never starts on another test's. */
const kiln = (args: string[], env: Record<string, string> = {}) =>
  runKiln(args, { KILN_DATA_DIR: join(dir, "unused-data"), ...env });

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("kiln batch", () => {
  it(`renders ${RECORDS} records through the pipeline; the manifest matches the stored outputs`, async () => {
    const templatePath = join(dir, "ticket.html");
    const recordsPath = join(dir, "records.jsonl");
    const out = join(dir, "out");
    await writeFile(templatePath, TEMPLATE);
    const lines = Array.from({ length: RECORDS }, (_, n) => JSON.stringify({ n, name: `Guest ${n}` }));
    await writeFile(recordsPath, `${lines.join("\n")}\n`);

    const { code, stdout, stderr } = await kiln(
      ["batch", templatePath, recordsPath, "--width", "240", "--height", "120", "--out", out],
      { KILN_API_URL: ts.stack.apiUrl, KILN_API_KEY: TENANT_A.apiKey },
    );
    expect(code, stderr).toBe(0);
    const progress = stdout.split("\n").filter((l) => new RegExp(`\\d+/${RECORDS} done`).test(l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toContain(`${RECORDS}/${RECORDS} done`);
    expect(stdout).toContain(`succeeded: ${RECORDS} succeeded, 0 failed`);

    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as BatchManifest;
    expect(manifest.total).toBe(RECORDS);
    expect(manifest.status).toBe("succeeded");
    expect(manifest.entries.map((e) => e.index)).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
    // Every record rendered its own data: as many distinct outputs as records.
    expect(new Set(manifest.entries.map((e) => e.output?.sha256)).size).toBe(RECORDS);
    // Each output says what produced it: its own data, the batch's template, the renderer.
    const provenances = manifest.entries.map((e) => e.output?.provenance);
    expect(provenances.every((p) => p?.renderer.chromium === RENDERER.chromium)).toBe(true);
    expect(new Set(provenances.map((p) => p?.inputs.data)).size).toBe(RECORDS);
    expect(new Set(provenances.map((p) => p?.inputs.template)).size).toBe(1);

    const s3 = new S3Client(localClientConfig(ts.stack.endpoints.sqsS3));
    const files = new Set(await readdir(out));
    for (const entry of manifest.entries) {
      const output = entry.output;
      expect(output, `record ${entry.index}`).toBeDefined();
      if (!output) continue;
      const { Body } = await s3.send(
        new GetObjectCommand({ Bucket: ts.stack.names.outputsBucket, Key: output.key }),
      );
      const stored = await (Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
      expect(sha256(stored), `record ${entry.index}`).toBe(output.sha256);
      expect(stored.byteLength).toBe(output.bytes);
      const name = `${String(entry.index).padStart(4, "0")}.png`;
      expect(files.has(name), name).toBe(true);
    }
    const sample = await readFile(join(out, "0017.png"));
    expect(sha256(sample)).toBe(manifest.entries[17]?.output?.sha256);
  }, 600_000);

  it("builds a zip of the outputs and the manifest that a zip reader accepts", async () => {
    const templatePath = join(dir, "small.html");
    const recordsPath = join(dir, "small.jsonl");
    const out = join(dir, "zip-out");
    await writeFile(templatePath, TEMPLATE);
    await writeFile(recordsPath, `${[1, 2, 3].map((n) => JSON.stringify({ n, name: "z" })).join("\n")}\n`);
    const { code, stderr } = await kiln(
      ["batch", templatePath, recordsPath, "--width", "240", "--height", "120", "--zip", "--out", out],
      { KILN_API_URL: ts.stack.apiUrl, KILN_API_KEY: TENANT_A.apiKey },
    );
    expect(code, stderr).toBe(0);
    const zipPath = join(out, "outputs.zip");
    const tested = await run("python3", ["-m", "zipfile", "-t", zipPath]);
    expect(tested.stdout).toContain("Done testing");
    const listed = await run("python3", ["-m", "zipfile", "-l", zipPath]);
    for (const name of ["0.png", "1.png", "2.png", "manifest.json"]) expect(listed.stdout).toContain(name);
    // The zip holds the same bytes as the downloaded outputs.
    const extracted = join(dir, "unzipped");
    await run("python3", ["-m", "zipfile", "-e", zipPath, extracted]);
    expect(sha256(await readFile(join(extracted, "1.png")))).toBe(sha256(await readFile(join(out, "1.png"))));
  }, 120_000);

  it("exits 1 and names the failed records when some renders fail", async () => {
    const templatePath = join(dir, "maybe-broken.html");
    const recordsPath = join(dir, "maybe-broken.jsonl");
    await writeFile(templatePath, '<p>{{ n }}</p>{% if img %}<img alt="photo" src="{{ img }}">{% endif %}');
    // A data: URL that is not an image fails to load: the render fails (resourceErrors defaults to fail).
    const broken = "data:image/png;base64,bm90IGFuIGltYWdl";
    const lines = [0, 1, 2, 3].map((n) => JSON.stringify(n % 2 ? { n, img: broken } : { n }));
    await writeFile(recordsPath, `${lines.join("\n")}\n`);
    const { code, stdout, stderr } = await kiln(
      ["batch", templatePath, recordsPath, "--width", "240", "--height", "120"],
      { KILN_API_URL: ts.stack.apiUrl, KILN_API_KEY: TENANT_A.apiKey },
    );
    expect(code, stderr).toBe(1);
    expect(stdout).toContain("partially_failed: 2 succeeded, 2 failed");
    expect(stderr).toMatch(/record 1: render_failed: .*Images failed to load/);
    expect(stderr).toMatch(/record 3: render_failed: .*Images failed to load/);
    expect(stderr).not.toMatch(/record [02]:/);
  }, 120_000);

  it("names a bad line and sends nothing (exit 2)", async () => {
    const recordsPath = join(dir, "bad.jsonl");
    await writeFile(recordsPath, '{"n":1}\n{"n":2}\n{"n":\n');
    // Pointing at a closed port proves nothing was sent: the input check comes first.
    const { code, stderr } = await kiln(["batch", "invoice@1", recordsPath], {
      KILN_API_URL: "http://127.0.0.1:9",
      KILN_API_KEY: "k",
    });
    expect(code).toBe(2);
    expect(stderr).toContain("bad.jsonl:3: is not valid JSON");
    expect(stderr).not.toContain("Usage:");
  });

  it("exits 3 when Kiln cannot be reached", async () => {
    const recordsPath = join(dir, "ok.jsonl");
    await writeFile(recordsPath, '{"n":1}\n');
    const { code } = await kiln(["batch", "invoice@1", recordsPath], {
      KILN_API_URL: "http://127.0.0.1:9",
      KILN_API_KEY: "k",
    });
    expect(code).toBe(3);
  });
});
