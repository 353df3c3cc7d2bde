import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadJobDirectory } from "../../bin/commands/job-directory.js";
import { KilnApiError } from "../../functions/client/kiln-client.js";
import { ASSETS } from "../../functions/core/assets.js";
import { LIMITS } from "../../functions/core/render-request.js";
import { LAMBDA_MAX_INVOKE_PAYLOAD_BYTES } from "../../functions/handlers/api/http-errors.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";

/**
 * Body sizes on the local stack, from the outside in: what the api function refuses (3 MiB of JSON,
 * 4 MiB of file), what Lambda's 6 MB invocation would refuse before the function runs, and the
 * presigned path that takes larger files straight to S3.
 */

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

async function send(method: string, path: string, body: Uint8Array | string, contentType: string) {
  const res = await fetch(new URL(path, t.stack.apiUrl), {
    method,
    headers: { "x-api-key": TENANT_A.apiKey, "content-type": contentType },
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
}

/** A render request of `bytes` bytes of JSON. */
function renderBody(bytes: number): string {
  const shell = JSON.stringify({ template: { html: "<p>x</p>" }, data: { filler: "" } });
  return shell.replace('"filler":""', `"filler":"${"z".repeat(bytes - shell.length)}"`);
}

describe("JSON bodies", () => {
  it("answers a body just over 3 MiB with the api function's 413, in Kiln's shape", async () => {
    const res = await send("POST", "/v1/renders", renderBody(LIMITS.requestBytes + 1), "application/json");
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
    expect(res.body.error.message).toContain(`is ${LIMITS.requestBytes + 1} bytes`);
  });

  it("answers a body too large for Lambda's invocation (7 MiB) with 413 before the function runs", async () => {
    const res = await send("POST", "/v1/renders", renderBody(7 * 1024 * 1024), "application/json");
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({
      code: "payload_too_large",
      message: expect.stringContaining(`at most ${LAMBDA_MAX_INVOKE_PAYLOAD_BYTES} bytes per request`),
    });
  });
});

describe("asset uploads", () => {
  it("413s a file over 4 MiB through PUT /v1/assets/{key}, naming the presigned path, at either layer", async () => {
    // Just over: it reaches the function (5.3 MiB base64 fits in the event).
    const justOver = await send("PUT", "/v1/assets/big.png", Buffer.alloc(ASSETS.maxBytes + 1), "image/png");
    expect(justOver.status).toBe(413);
    expect(justOver.body.error.message).toContain(`is ${ASSETS.maxBytes + 1} bytes`);
    // 5 MiB is 6.7 MiB base64: Lambda would refuse the event, so the gateway answers.
    const fiveMiB = await send("PUT", "/v1/assets/big.png", Buffer.alloc(5 * 1024 * 1024), "image/png");
    expect(fiveMiB.status).toBe(413);
    for (const res of [justOver, fiveMiB]) {
      expect(res.body.error).toMatchObject({
        code: "payload_too_large",
        message: expect.stringContaining("POST /v1/asset-uploads"),
      });
    }
  });

  it("uploads a 6 MiB image by presigned URL to the S3 stand-in, and a render uses it", async () => {
    // Noise does not compress, so the PNG stays over 6 MiB; its top-left 100 × 100 is pure green.
    const side = 1500;
    const image = new PNG({ width: side, height: side });
    randomBytes(side * side * 4).copy(image.data);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const i = (y * side + x) * 4;
        if (x < 100 && y < 100) image.data.set([0, 200, 0], i);
        image.data[i + 3] = 255;
      }
    }
    const file = PNG.sync.write(image);
    expect(file.byteLength).toBeGreaterThan(6 * 1024 * 1024);

    const stored = await t.clientA.uploadLargeAsset("large/noise.png", file, "image/png");
    expect(stored).toMatchObject({
      key: "large/noise.png",
      bytes: file.byteLength,
      contentType: "image/png",
    });

    const s3 = new S3Client(localClientConfig(t.stack.endpoints.sqsS3));
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: t.stack.names.assetsBucket,
        Key: `assets/${TENANT_A.tenant}/large/noise.png`,
      }),
    );
    s3.destroy();
    expect([head.ContentLength, head.ContentType, head.CacheControl]).toEqual([
      file.byteLength,
      "image/png",
      ASSETS.cacheControl,
    ]);

    const submitted = await t.clientA.submitRender({
      template: {
        html: `<body style="margin:0"><img src="{{ 'noise' | asset_url }}" style="display:block"></body>`,
      },
      assets: { noise: "large/noise.png" },
      output: { format: "png", width: 100, height: 100 },
    });
    const done = await t.clientA.waitFor(submitted.id, { timeoutMs: 60_000 });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe("succeeded");
    const png = PNG.sync.read(Buffer.from(await t.clientA.download(done)));
    let green = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      if (png.data[i] === 0 && png.data[i + 1] === 200 && png.data[i + 2] === 0) green++;
    }
    expect(green).toBe(100 * 100);
  });

  it("uploads a job directory's file over 4 MiB by presigned URL, as kiln render does", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-job-dir-"));
    const file = randomBytes(ASSETS.maxBytes + 1);
    await mkdir(join(dir, "assets", "large"), { recursive: true });
    await writeFile(join(dir, "assets", "large", "dir.png"), file);
    try {
      expect(await uploadJobDirectory(t.clientA, dir)).toEqual({ templates: [], assets: ["large/dir.png"] });
    } finally {
      await rm(dir, { recursive: true });
    }
    const s3 = new S3Client(localClientConfig(t.stack.endpoints.sqsS3));
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: t.stack.names.assetsBucket,
        Key: `assets/${TENANT_A.tenant}/large/dir.png`,
      }),
    );
    s3.destroy();
    expect([head.ContentLength, head.ContentType]).toEqual([file.byteLength, "image/png"]);
  });

  it("keeps every upload URL under the caller's own prefix", async () => {
    const err = await t.clientA
      .request("POST", "/v1/asset-uploads", { json: { key: "../b/x.png", bytes: 1 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnApiError);
    expect(err).toMatchObject({ status: 400, fields: [{ field: "key" }] });
    const ok = await t.clientB.request<{ url: string }>("POST", "/v1/asset-uploads", {
      json: { key: "x.png", bytes: 1 },
    });
    expect(new URL(ok.body.url).pathname).toBe(
      `/${t.stack.names.assetsBucket}/assets/${TENANT_B.tenant}/x.png`,
    );
  });
});
