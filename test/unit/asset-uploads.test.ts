import { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { S3AssetStore } from "../../functions/adapters/aws/s3-asset-store.js";
import { FixedClock } from "../../functions/adapters/memory/memory-ports.js";
import { ASSETS } from "../../functions/core/assets.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { apiEvent, KEY_A, memoryApiDeps } from "./support/api.js";

// Presigning is local computation: the real S3 client and presigner, no request is sent.
const s3 = new S3Client({
  region: "eu-west-1",
  credentials: { accessKeyId: "AKIAKILNTEST", secretAccessKey: "secret" },
});
const clock = new FixedClock(new Date("2026-12-07T06:00:00Z"));
const handler = makeHandler(
  memoryApiDeps({ clock, assetUploads: new S3AssetStore(s3, "kiln-assets"), assets: undefined }),
);

const ask = (body: unknown) =>
  handler(
    apiEvent({
      httpMethod: "POST",
      path: "/v1/asset-uploads",
      headers: { "X-Api-Key": KEY_A, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );

describe("POST /v1/asset-uploads", () => {
  it("answers a PUT URL scoped to the tenant's key, the type, the exact size and a 300 s lifetime", async () => {
    const bytes = 6 * 1024 * 1024;
    const res = await ask({ key: "brand/hero.png", bytes });
    expect(res.statusCode).toBe(201);
    const upload = JSON.parse(res.body);
    expect(upload).toMatchObject({
      key: "brand/hero.png",
      method: "PUT",
      headers: {
        "content-type": "image/png",
        "content-length": String(bytes),
        "cache-control": ASSETS.cacheControl,
      },
      expiresAt: "2026-12-07T06:05:00.000Z",
    });
    const url = new URL(upload.url);
    expect(url.hostname).toBe("kiln-assets.s3.eu-west-1.amazonaws.com");
    expect(url.pathname).toBe("/assets/a/brand/hero.png");
    const q = url.searchParams;
    expect(q.get("x-id")).toBe("PutObject");
    expect(q.get("X-Amz-Date")).toBe("20261207T060000Z");
    expect(q.get("X-Amz-Expires")).toBe(String(ASSETS.uploadUrlTtlSeconds));
    expect(q.get("X-Amz-Credential")).toBe("AKIAKILNTEST/20261207/eu-west-1/s3/aws4_request");
    // S3 refuses a PUT whose type, length or Cache-Control differ from the signed ones.
    expect(q.get("X-Amz-SignedHeaders")?.split(";")).toEqual([
      "cache-control",
      "content-length",
      "content-type",
      "host",
    ]);
    // No checksum of the empty body the SDK presigned: S3 would check it against the file.
    expect([...q.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
  });

  it("takes the type from contentType, or from the key's extension for a generic one", async () => {
    const named = JSON.parse((await ask({ key: "fonts/script", contentType: "font/woff2", bytes: 10 })).body);
    expect(named.headers["content-type"]).toBe("font/woff2");
    const generic = await ask({
      key: "data/records.jsonl",
      contentType: "application/octet-stream",
      bytes: 10,
    });
    expect(JSON.parse(generic.body).headers["content-type"]).toBe("application/x-ndjson");
  });

  it("answers 400 naming the field for a bad key, type or size, as PUT /v1/assets/{key} does", async () => {
    const fieldsOf = async (body: unknown) => {
      const res = await ask(body);
      expect(res.statusCode).toBe(400);
      return JSON.parse(res.body).error.fields.map((f: { field: string }) => f.field);
    };
    expect(await fieldsOf({ key: "a/../b.png", bytes: 10 })).toEqual(["key"]);
    expect(await fieldsOf({ key: "page.html", contentType: "text/html", bytes: 10 })).toEqual([
      "contentType",
    ]);
    expect(await fieldsOf({ key: "no-extension", bytes: 10 })).toEqual(["key"]);
    expect(await fieldsOf({ key: "big.png", bytes: ASSETS.maxUploadBytes + 1 })).toEqual(["bytes"]);
    expect(await fieldsOf({ key: "empty.png", bytes: 0 })).toEqual(["bytes"]);
    expect(await fieldsOf({ key: "x.png", bytes: 1, acl: "public-read" })).toEqual(["acl"]);
  });

  it("answers 404 where uploads are not configured", async () => {
    const without = makeHandler(memoryApiDeps({ clock }));
    const res = await without(
      apiEvent({
        httpMethod: "POST",
        path: "/v1/asset-uploads",
        headers: { "X-Api-Key": KEY_A, "Content-Type": "application/json" },
        body: JSON.stringify({ key: "x.png", bytes: 1 }),
      }),
    );
    expect(res.statusCode).toBe(404);
  });
});
