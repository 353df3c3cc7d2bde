import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { ASSETS } from "../../functions/core/assets.js";
import { JOB_RETENTION_DAYS, OUTPUTS } from "../../functions/core/constants.js";

export interface KilnBucketsProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Empty the buckets when the stack is deleted (only honoured with RemovalPolicy.DESTROY).
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
  /**
   * Days after which rendered outputs are deleted. At least the job retention, so that a job never
   * points at an output that is gone.
   * @default JOB_RETENTION_DAYS (30)
   */
  readonly outputsExpirationDays?: number;
  /**
   * Days jobs are kept; outputs must be kept at least as long.
   * @default JOB_RETENTION_DAYS (30)
   */
  readonly jobRetentionDays?: number;
  /**
   * Days an overwritten or deleted template object's old S3 version is kept. Template HTML is stored
   * under its content hash and never overwritten, so this only bounds what an out-of-band overwrite or
   * delete leaves behind; the versions jobs name stay current objects and are never expired.
   * @default - old object versions are kept
   */
  readonly templateVersionRetentionDays?: number;
  /**
   * Days after which tenant assets are deleted (from their upload).
   * @default - assets are kept
   */
  readonly assetsExpirationDays?: number;
  /** @default 90 */
  readonly accessLogsExpirationDays?: number;
  /**
   * Customer-managed key for the outputs, templates and assets buckets (SSE-KMS with S3 Bucket Keys). The access-log bucket keeps SSE-S3: S3 server access logging delivers only to SSE-S3 targets.
   * @default - SSE-S3
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * Kiln's S3 buckets: outputs (`outputs/<tenant>/<sha256>.<ext>`, expiring), templates (versioned),
 * assets (`assets/<tenant>/...`), and the access-log bucket the others and CloudFront log to. All block
 * public access, encrypt at rest and refuse plain HTTP.
 */
export class KilnBuckets extends Construct {
  public readonly outputs: s3.Bucket;
  public readonly templates: s3.Bucket;
  public readonly assets: s3.Bucket;
  public readonly accessLogs: s3.Bucket;
  public readonly outputsExpirationDays: number;

  constructor(scope: Construct, id: string, props: KilnBucketsProps = {}) {
    super(scope, id);
    const jobRetentionDays = props.jobRetentionDays ?? JOB_RETENTION_DAYS;
    this.outputsExpirationDays = props.outputsExpirationDays ?? jobRetentionDays;
    if (!Number.isInteger(this.outputsExpirationDays) || this.outputsExpirationDays < jobRetentionDays) {
      throw new Error(
        `outputsExpirationDays must be a whole number of at least ${jobRetentionDays} days (the job retention), so that no job points at a deleted output; got ${this.outputsExpirationDays}.`,
      );
    }
    for (const [name, days] of [
      ["templateVersionRetentionDays", props.templateVersionRetentionDays],
      ["assetsExpirationDays", props.assetsExpirationDays],
    ] as const) {
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) {
        throw new Error(
          `${name} must be a positive whole number of days, or left out to keep them; got ${days}.`,
        );
      }
    }
    const accessLogsExpirationDays = props.accessLogsExpirationDays ?? 90;
    if (!Number.isInteger(accessLogsExpirationDays) || accessLogsExpirationDays < 1) {
      throw new Error(
        `accessLogsExpirationDays must be a positive whole number; got ${accessLogsExpirationDays}.`,
      );
    }

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY && (props.autoDeleteObjects ?? false);
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy,
      autoDeleteObjects,
    };

    this.accessLogs = new s3.Bucket(this, "AccessLogs", {
      ...common,
      // CloudFront standard logging writes with ACLs, so this bucket keeps them enabled.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(accessLogsExpirationDays) }],
    });
    Validations.of(this.accessLogs).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "This is the access-log target of the other buckets and CloudFront; logging it into itself would log its own log deliveries.",
    });

    const logged = (prefix: string): s3.BucketProps => ({
      ...common,
      ...(props.encryptionKey && {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: props.encryptionKey,
        bucketKeyEnabled: true,
      }),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: `s3/${prefix}/`,
    });

    this.outputs = new s3.Bucket(this, "Outputs", {
      ...logged("outputs"),
      lifecycleRules: [
        { prefix: OUTPUTS.keyPrefix, expiration: Duration.days(this.outputsExpirationDays) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    // Templates are resolved by immutable version; object versioning keeps an overwrite recoverable.
    this.templates = new s3.Bucket(this, "Templates", {
      ...logged("templates"),
      versioned: true,
      ...(props.templateVersionRetentionDays === undefined
        ? {}
        : {
            lifecycleRules: [
              {
                noncurrentVersionExpiration: Duration.days(props.templateVersionRetentionDays),
                expiredObjectDeleteMarker: true,
              },
            ],
          }),
    });
    this.assets = new s3.Bucket(this, "Assets", {
      ...logged("assets"),
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(props.assetsExpirationDays === undefined
          ? []
          : [{ prefix: ASSETS.keyPrefix, expiration: Duration.days(props.assetsExpirationDays) }]),
      ],
    });
  }
}
