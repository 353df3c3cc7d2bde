import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { ArchiveEntry, BatchArtifactStore, RecordsSource } from "../../core/batches.js";
import { zipStream } from "../zip/yazl-archive.js";

/** S3 takes parts of at least 5 MiB (but the last); larger parts mean fewer requests. */
const PART_BYTES = 8 * 1024 * 1024;

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

async function readObject(client: S3Client, bucket: string, key: string): Promise<Uint8Array | undefined> {
  try {
    const { Body } = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Body ? await Body.transformToByteArray() : undefined;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/**
 * A batch's objects in the outputs bucket: outputs read back into its zip, the manifest, and the zip,
 * which is streamed as a multipart upload so that its size is not bounded by the function's memory.
 */
export class S3BatchArtifactStore implements BatchArtifactStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  read(key: string): Promise<Uint8Array | undefined> {
    return readObject(this.client, this.bucket, key);
  }

  async put(key: string, body: Uint8Array, contentType: string, cacheControl: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        CacheControl: cacheControl,
      }),
    );
  }

  putZip(
    key: string,
    entries: AsyncIterable<ArchiveEntry>,
    modified: Date,
    cacheControl: string,
  ): Promise<number> {
    return this.putStream(key, zipStream(entries, modified), "application/zip", cacheControl);
  }

  /** Uploads `parts` in order as one object, a multipart upload of PART_BYTES parts. Returns its size. */
  private async putStream(
    key: string,
    parts: AsyncIterable<Uint8Array>,
    contentType: string,
    cacheControl: string,
  ): Promise<number> {
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: contentType,
        CacheControl: cacheControl,
      }),
    );
    if (!UploadId) throw new Error(`S3 returned no upload id for ${key}`);
    const uploaded: Array<{ ETag: string; PartNumber: number }> = [];
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let total = 0;
    const flush = async () => {
      const PartNumber = uploaded.length + 1;
      const { ETag } = await this.client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId,
          PartNumber,
          Body: Buffer.concat(pending),
        }),
      );
      if (!ETag) throw new Error(`S3 returned no ETag for part ${PartNumber} of ${key}`);
      uploaded.push({ ETag, PartNumber });
      pending = [];
      pendingBytes = 0;
    };
    try {
      for await (const part of parts) {
        pending.push(part);
        pendingBytes += part.byteLength;
        total += part.byteLength;
        if (pendingBytes >= PART_BYTES) await flush();
      }
      if (pendingBytes > 0 || uploaded.length === 0) await flush();
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: uploaded },
        }),
      );
      return total;
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId }))
        .catch(() => {});
      throw err;
    }
  }
}

/** Reads a batch's JSONL records from the tenant's assets. */
export class S3RecordsSource implements RecordsSource {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async readText(objectKey: string): Promise<string | undefined> {
    const bytes = await readObject(this.client, this.bucket, objectKey);
    return bytes === undefined ? undefined : Buffer.from(bytes).toString("utf8");
  }
}
