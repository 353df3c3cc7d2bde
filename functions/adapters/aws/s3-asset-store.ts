import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ASSETS, type AssetInfo, type AssetStore } from "../../core/assets.js";
import type { AssetReader } from "../../core/pdf-finishing.js";

/** The assets bucket: tenants' files under `assets/<tenant>/…`, read by the CDN through OAC. */
export class S3AssetStore implements AssetStore, AssetReader {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async head(objectKey: string): Promise<AssetInfo | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { bytes: head.ContentLength ?? 0, contentType: head.ContentType ?? "application/octet-stream" };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** The asset's bytes: what PDF finishing stamps or embeds. */
  async read(objectKey: string): Promise<Uint8Array | undefined> {
    try {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return Body ? await Body.transformToByteArray() : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async put(objectKey: string, body: Uint8Array, contentType: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: objectKey,
        Body: body,
        ContentType: contentType,
        CacheControl: ASSETS.cacheControl,
      }),
    );
  }
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  // Without s3:ListBucket (roles get none) S3 answers a missing key with 403, not 404.
  const status = e.$metadata?.httpStatusCode;
  return e.name === "NotFound" || e.name === "NoSuchKey" || status === 404 || status === 403;
}
