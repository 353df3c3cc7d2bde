/**
 * The artifacts tier: the CDK app is synthesized as for a deploy, and jobs go through the synthesized
 * bundles — not the sources — each in a Lambda-shaped sandbox (bin/artifacts/sandbox.ts): api → render
 * queue → worker (with the Chromium layer at /opt) → signer → outputs served by the edge.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { PDFDocument } from "@cantoo/pdf-lib";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SynthesizedStack } from "../../bin/artifacts/cloud-assembly.js";
import { deployLocally, type LocalDeployment } from "../../bin/artifacts/local-deployment.js";
import { assertSandboxAvailable, sandboxNodeBinary } from "../../bin/artifacts/sandbox.js";
import { synthesizeKiln } from "../../bin/artifacts/synth.js";
import { DynamoDbApiKeyStore } from "../../functions/adapters/aws/dynamodb-api-key-store.js";
import { webhookSecretItemKey } from "../../functions/adapters/aws/jobs-table.js";
import { type JobView, KilnClient, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";

const API = "Api/ApiFunction";
const WORKER = "RenderWorker/Worker";
const SIGNER = "Signer/SignAssets";
const TENANT = { tenant: "acme", apiKey: "acme-artifacts-key-0001" };

let scratch: string;
let stack: SynthesizedStack;
let deployment: LocalDeployment;
let client: KilnClient;

// Synthesis bundles every function and builds the layer: minutes, not seconds, on a busy 2-core machine.
beforeAll(async () => {
  // Where namespaces are refused this throws, and every test here fails with its sentence.
  assertSandboxAvailable();
  scratch = mkdtempSync(join(tmpdir(), "kiln-artifacts-"));
  stack = synthesizeKiln(join(scratch, "cdk.out"));
  deployment = await deployLocally({ stack, run: [API, WORKER, SIGNER], workDir: scratch });
  const table = deployment.bindings.get(stack.functionAt(API).environment.KILN_JOBS_TABLE.Ref)?.ref;
  await new DynamoDbApiKeyStore(deployment.clients.dynamodb, String(table)).register(
    TENANT.tenant,
    TENANT.apiKey,
  );
  client = new KilnClient({ baseUrl: String(deployment.apiUrl), apiKey: TENANT.apiKey });
}, 600_000);

afterAll(async () => {
  await deployment?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Submits through the sandboxed api, waits for the sandboxed worker, fetches through the edge. */
async function render(job: RenderSubmissionInput): Promise<{ done: JobView; bytes: Buffer }> {
  const submitted = await client.submitRender(job);
  const done = await client.waitFor(submitted.id, { timeoutMs: 90_000 });
  expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
  const res = await fetch(String(done.output?.url));
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes.byteLength).toBe(done.output?.bytes);
  expect(createHash("sha256").update(bytes).digest("hex")).toBe(done.output?.sha256);
  return { done, bytes };
}

const pixelAt = (png: PNG, x: number, y: number) => {
  const i = (y * png.width + x) * 4;
  return [png.data[i] ?? 0, png.data[i + 1] ?? 0, png.data[i + 2] ?? 0];
};

/** Pixels in the rectangle for which `test` holds. */
function count(
  png: PNG,
  area: { x: number; y: number; w: number; h: number },
  test: (rgb: number[]) => boolean,
) {
  let n = 0;
  for (let y = area.y; y < area.y + area.h; y++) {
    for (let x = area.x; x < area.x + area.w; x++) if (test(pixelAt(png, x, y))) n++;
  }
  return n;
}

describe("the synthesized artifacts", () => {
  it("agree on the runtime: every Kiln function is nodejs22.x, which satisfies package.json's engines", () => {
    const kiln = stack.functions.filter((f) => f.environment.POWERTOOLS_SERVICE_NAME !== undefined);
    expect(kiln.map((f) => f.runtime)).toEqual(kiln.map(() => "nodejs22.x"));
    const engines = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).engines.node as string;
    const [major, minor] = /^>=(\d+)\.(\d+)\.\d+$/.exec(engines)?.slice(1).map(Number) ?? [];
    expect(major).toBe(22);
    // The sandbox runs them on the project's Node 22, which must be at least what engines asks for.
    sandboxNodeBinary("nodejs22.x");
    const [runMajor, runMinor] = process.versions.node.split(".").map(Number);
    expect(runMajor).toBe(major);
    expect(runMinor).toBeGreaterThanOrEqual(minor ?? Number.POSITIVE_INFINITY);
    for (const f of kiln) expect(f.environment.NODE_OPTIONS, f.logicalId).toBe("--enable-source-maps");
  });

  it("ship only the zstd decoder in the worker bundle, not the synth-only encoder or other synth code", () => {
    const dir = stack.functionAt(WORKER).codeDir;
    const files = readdirSync(dir).filter((f) => f.endsWith(".mjs"));
    const bundle = files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
    // Booleans, not toContain: a failure would print the whole 4 MB bundle.
    expect(bundle.includes("zstdDecompress")).toBe(true);
    expect(bundle.includes("zstdCompressSync")).toBe(false);
    // Nor any other synth-time module: the pack builder, the CDK, the constructs (their worker shims
    // are runtime code).
    const sources = files.flatMap(
      (f) => JSON.parse(readFileSync(join(dir, `${f}.map`), "utf8")).sources as string[],
    );
    const synthOnly = sources.filter(
      (source) =>
        source.endsWith("chromium-pack-build.ts") ||
        source.includes("/aws-cdk-lib/") ||
        (source.includes("/lib/constructs/") && !source.includes("/worker-shims/")),
    );
    expect(synthOnly).toEqual([]);
  });
});

describe("jobs through the sandboxed bundles: api → queue → worker → signer → edge", () => {
  it("renders a PNG", async () => {
    const { done, bytes } = await render({
      template: {
        html: '<html><body style="margin:0;background:#0000ff"><div style="width:100px;height:50px;background:{{ c }}"></div></body></html>',
      },
      data: { c: "#ff0000" },
      output: { format: "png", width: 300, height: 200 },
    });
    expect(done.output?.contentType).toBe("image/png");
    expect(bytes.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    const png = PNG.sync.read(bytes);
    expect([png.width, png.height]).toEqual([300, 200]);
    expect(pixelAt(png, 50, 25)).toEqual([255, 0, 0]);
    expect(pixelAt(png, 200, 150)).toEqual([0, 0, 255]);
  });

  it("renders a PDF", async () => {
    const { done, bytes } = await render({
      template: { html: "<h1>Invoice {{ n }}</h1><p>Rendered by the synthesized worker.</p>" },
      data: { n: "KLN-1" },
      output: { format: "pdf" },
    });
    expect(done.output?.contentType).toBe("application/pdf");
    expect(bytes.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    expect(bytes.subarray(-16).toString("latin1")).toContain("%%EOF");
    expect(bytes.byteLength).toBeGreaterThan(1000);
  });

  it("finishes a PDF with the PDF library, a bundle file of its own loaded on first use", async () => {
    const { done, bytes } = await render({
      template: { html: "<h1>Policy {{ n }}</h1>" },
      data: { n: "KLN-2" },
      output: { format: "pdf", pdf: { metadata: { title: "Policy KLN-2" }, stamps: [{ text: "SPECIMEN" }] } },
    });
    expect(done.output?.contentType).toBe("application/pdf");
    const pdf = await PDFDocument.load(bytes);
    expect(pdf.getTitle()).toBe("Policy KLN-2");
    expect(pdf.getPageCount()).toBe(1);
  });

  it("renders a job with an uploaded asset, signed by the sandboxed signer and served by the edge", async () => {
    const dot = new PNG({ width: 4, height: 4 });
    for (let i = 0; i < dot.data.length; i += 4) dot.data.set([0, 200, 0, 255], i);
    const uploaded = await client.putAsset("brand/dot.png", PNG.sync.write(dot), "image/png");
    expect(uploaded.key).toBe("brand/dot.png");
    const { bytes } = await render({
      template: {
        html: `<html><body style="margin:0;background:#fff"><img src="{{ 'dot' | asset_url }}" style="display:block;width:40px;height:40px"></body></html>`,
      },
      assets: { dot: "brand/dot.png" },
      output: { format: "png", width: 80, height: 80 },
    });
    const png = PNG.sync.read(bytes);
    expect(pixelAt(png, 20, 20)).toEqual([0, 200, 0]);
    expect(pixelAt(png, 60, 60)).toEqual([255, 255, 255]);
    // The worker reached the signer through Lambda Invoke: one signer environment, which logged nothing
    // worse than INFO while reading its key from Secrets Manager.
    const signer = deployment.service(SIGNER).environments();
    expect(signer).toHaveLength(1);
    expect(signer[0]?.logRecords().filter((r) => r.level === "ERROR")).toEqual([]);
  });

  it("renders CJK and emoji with the layer's fonts", async () => {
    const { bytes } = await render({
      template: {
        html: `<html><body style="margin:0;background:#fff;color:#000">
<div style="position:absolute;left:0;top:0;width:300px;height:100px;font-size:56px;line-height:100px">漢字한글</div>
<div style="position:absolute;left:300px;top:0;width:100px;height:100px;font-size:64px;line-height:100px">😀</div>
</body></html>`,
      },
      output: { format: "png", width: 400, height: 100 },
    });
    const png = PNG.sync.read(bytes);
    const ink = count(
      png,
      { x: 0, y: 0, w: 300, h: 100 },
      ([r, g, b]) => (r ?? 0) + (g ?? 0) + (b ?? 0) < 200,
    );
    // Colour, not grey: a colour emoji face drew it, not a missing-glyph box.
    const colour = count(
      png,
      { x: 300, y: 0, w: 100, h: 100 },
      (rgb) => Math.max(...rgb) - Math.min(...rgb) > 80,
    );
    expect(ink).toBeGreaterThan(1500);
    expect(colour).toBeGreaterThan(1000);
  });
});

describe("webhook secrets through the sandboxed api bundle", () => {
  it("are created and rotated with the bundle's KMS client, and the table holds only their ciphertext", async () => {
    const first = await client.getWebhookSecret();
    const rotated = await client.rotateWebhookSecret();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(first);
    expect(rotated.previousSecretExpiresAt).toBeDefined();
    expect(await client.getWebhookSecret()).toBe(rotated.secret);
    const table = deployment.bindings.get(stack.functionAt(API).environment.KILN_JOBS_TABLE.Ref)?.ref;
    const key = webhookSecretItemKey(TENANT.tenant);
    const { Item } = await deployment.clients.dynamodb.send(
      new GetItemCommand({
        TableName: String(table),
        Key: { pk: { S: String(key.pk) }, sk: { S: String(key.sk) } },
        ConsistentRead: true,
      }),
    );
    expect(Item?.current?.M?.ciphertext?.B).toBeInstanceOf(Uint8Array);
    const raw = JSON.stringify(Item, (_k, v) =>
      v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v,
    );
    for (const secret of [first, rotated.secret])
      expect(raw.includes(secret.slice("whsec_".length))).toBe(false);
  });
});

describe("what the sandboxed functions log", () => {
  it("says cold_start true on the first invocation's lines and false on a warm invocation's, job lines included", () => {
    const environments = deployment.service(WORKER).environments();
    // Every job so far went to one warm environment.
    expect(environments).toHaveLength(1);
    const lines = environments[0]?.logRecords().filter((r) => r.function_request_id !== undefined) ?? [];
    const invocations = [...new Set(lines.map((r) => r.function_request_id))];
    expect(invocations.length).toBeGreaterThanOrEqual(4);
    const [first, ...warm] = invocations;
    const of = (id: unknown) => lines.filter((r) => r.function_request_id === id);
    expect(of(first).map((r) => r.cold_start)).toEqual(of(first).map(() => true));
    const warmLines = warm.flatMap(of);
    expect(warmLines.filter((r) => r.jobId !== undefined).length).toBeGreaterThan(0);
    expect(warmLines.map((r) => r.cold_start)).toEqual(warmLines.map(() => false));
    expect(lines.some((r) => r.message === "render succeeded")).toBe(true);
    // Nothing went wrong on the way: no error line, nothing on stderr (an SDK warning about a queue URL
    // it cannot parse, say). A WARN may come: delivery is at least once, and a second delivery of a job
    // waits for the first one's lease, as it should (seen once, when the machine was busy).
    expect(lines.filter((r) => r.level === "ERROR")).toEqual([]);
    expect(environments[0]?.stderrLines()).toEqual([]);
  });

  it("reports a thrown error with a stack mapped to the TypeScript sources", async () => {
    const error = await deployment
      .service(SIGNER)
      .invoke({ keys: "not a list" }, "api")
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error?.message).toMatch(/failed: .*keys/);
    expect(error?.stack).toMatch(/functions\/core\/[\w-]+\.ts:\d+:\d+/);
    expect(error?.stack).not.toMatch(/\/var\/task\/index\.mjs/);
  });
});
