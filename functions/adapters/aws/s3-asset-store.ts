import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  ASSETS,
  type AssetInfo,
  type AssetStore,
  type AssetUploadScope,
  type AssetUploadSigner,
} from "../../core/assets.js";
import type { AssetReader } from "../../core/pdf-finishing.js";

/**
 * Headers an upload URL signs, so that S3 refuses a PUT without exactly these values. The presigner
 * leaves content-type and cache-control unsigned unless told.
 */
const SIGNED_UPLOAD_HEADERS = new Set(["content-type", "content-length", "cache-control"]);

/** The assets bucket: tenants' files under `assets/<tenant>/…`, read by the CDN through OAC. */
export class S3AssetStore implements AssetStore, AssetUploadSigner, AssetReader {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async head(objectKey: string): Promise<AssetInfo | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return {
        bytes: head.ContentLength ?? 0,
        contentType: head.ContentType ?? "application/octet-stream",
        ...(head.ETag ? { etag: head.ETag } : {}),
        ...(head.LastModified ? { lastModified: head.LastModified.toISOString() } : {}),
      };
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

  /** Signed with the caller's credentials: the URL can do only what its role may (s3:PutObject on assets/*). */
  presignPut(
    objectKey: string,
    scope: AssetUploadScope,
    signedAt: Date,
    expiresInSeconds: number,
  ): Promise<string> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: objectKey,
      ContentType: scope.contentType,
      ContentLength: scope.bytes,
      CacheControl: scope.cacheControl,
    });
    // The SDK adds a CRC32 checksum of the (empty) body it presigns, which the URL would carry and S3
    // would check against the uploaded file: an upload URL carries no checksum.
    command.middlewareStack.add(
      (next) => (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
        for (const name of Object.keys(headers)) {
          if (/^x-amz-(?:sdk-)?checksum-/i.test(name)) delete headers[name];
        }
        return next(args);
      },
      {
        step: "build",
        priority: "low",
        name: "kilnUploadWithoutChecksum",
      },
    );
    return getSignedUrl(this.client, command, {
      signingDate: signedAt,
      expiresIn: expiresInSeconds,
      signableHeaders: SIGNED_UPLOAD_HEADERS,
    });
  }
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  // Without s3:ListBucket (roles get none) S3 answers a missing key with 403, not 404.
  const status = e.$metadata?.httpStatusCode;
  return e.name === "NotFound" || e.name === "NoSuchKey" || status === 404 || status === 403;
}
