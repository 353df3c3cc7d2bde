import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ASSETS, type AssetInfo, type AssetStore } from "../../core/assets.js";

/** The assets bucket: tenants' files under `assets/<tenant>/…`, read by the CDN through OAC. */
export class S3AssetStore implements AssetStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async head(objectKey: string): Promise<AssetInfo | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { bytes: head.ContentLength ?? 0, contentType: head.ContentType ?? "application/octet-stream" };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      // Without s3:ListBucket (roles get none) S3 answers a missing key with 403, not 404.
      const status = e.$metadata?.httpStatusCode;
      if (e.name === "NotFound" || e.name === "NoSuchKey" || status === 404 || status === 403)
        return undefined;
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
