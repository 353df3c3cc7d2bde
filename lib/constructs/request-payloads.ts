import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { JOB_RETENTION_DAYS, PAYLOADS } from "../../functions/core/constants.js";

export interface RequestPayloadsProps {
  /** Bucket the payload bucket's server access logs go to. */
  readonly accessLogsBucket: s3.IBucket;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Empty the bucket when the stack is deleted (only honoured with RemovalPolicy.DESTROY).
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
  /**
   * Days after which stored request bodies are deleted. At least the job retention, so that a job
   * still on record can always be rendered.
   * @default JOB_RETENTION_DAYS (30)
   */
  readonly expirationDays?: number;
  /**
   * Customer-managed key for the bucket (SSE-KMS with an S3 Bucket Key).
   * @default - SSE-S3
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Days jobs are kept; request bodies must be kept at least as long.
   * @default JOB_RETENTION_DAYS (30)
   */
  readonly jobRetentionDays?: number;
}

/**
 * Request bodies too large for a DynamoDB item (`requests/<tenant>/<job id>.json`): written by the
 * api function, read by the render worker. Private, encrypted, TLS only, never behind the CDN, and
 * expired after the job retention.
 */
export class RequestPayloads extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: RequestPayloadsProps) {
    super(scope, id);
    const jobRetentionDays = props.jobRetentionDays ?? JOB_RETENTION_DAYS;
    const expirationDays = props.expirationDays ?? jobRetentionDays;
    if (!Number.isInteger(expirationDays) || expirationDays < jobRetentionDays) {
      throw new Error(
        `payload expirationDays must be a whole number of at least ${jobRetentionDays} days (the job retention), so that no job loses its request; got ${expirationDays}.`,
      );
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.bucket = new s3.Bucket(this, "Bucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      ...(props.encryptionKey
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: "s3/payloads/",
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY && (props.autoDeleteObjects ?? false),
      lifecycleRules: [
        { prefix: PAYLOADS.keyPrefix, expiration: Duration.days(expirationDays) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }
}
