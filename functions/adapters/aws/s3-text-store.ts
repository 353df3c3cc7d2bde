import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { PayloadStore } from "../../core/ports.js";
import type { TemplateSourceStore } from "../../core/templates.js";

/**
 * Text objects in a private bucket (never behind the CDN): large request bodies as JSON, template
 * HTML under content-addressed keys.
 */
export class S3TextStore implements PayloadStore, TemplateSourceStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly contentType: string,
  ) {}

  async put(key: string, text: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: text, ContentType: this.contentType }),
    );
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Body ? await Body.transformToString("utf8") : undefined;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === "NoSuchKey") return undefined;
      throw err;
    }
  }
}
