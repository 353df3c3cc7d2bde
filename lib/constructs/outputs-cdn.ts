import { Duration, Validations } from "aws-cdk-lib";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { OUTPUTS } from "../../functions/core/constants.js";

/** Path pattern of the assets behaviour; asset keys are `assets/<tenant>/...` in the assets bucket. */
export const ASSETS_PATH_PATTERN = "assets/*";
export const OUTPUTS_PATH_PATTERN = `${OUTPUTS.keyPrefix}*`;

export interface OutputsCdnProps {
  readonly outputsBucket: s3.IBucket;
  readonly assetsBucket: s3.IBucket;
  /** Key group whose public keys verify the signed URLs; every behaviour requires one. */
  readonly keyGroup: cloudfront.IKeyGroupRef;
  /** Bucket for CloudFront standard logs (needs ACLs enabled). */
  readonly logBucket: s3.IBucket;
  /** @default cloudfront.PriceClass.PRICE_CLASS_100 */
  readonly priceClass?: cloudfront.PriceClass;
  /**
   * Longest time CloudFront keeps an object. Outputs are content-addressed and immutable, so the
   * origin's Cache-Control (one year) normally decides; this caps it.
   * @default Duration.days(365)
   */
  readonly maxTtl?: Duration;
  /** @default "Kiln outputs and assets" */
  readonly comment?: string;
}

/**
 * The CloudFront distribution in front of the outputs and assets buckets: S3 origins reached through
 * origin access control, every path served only on a valid signed URL (trusted key group), HTTPS only,
 * a cache key of the path alone, and errors never cached.
 */
export class OutputsCdn extends Construct {
  public readonly distribution: cloudfront.Distribution;
  public readonly cachePolicy: cloudfront.CachePolicy;
  public readonly domainName: string;

  constructor(scope: Construct, id: string, props: OutputsCdnProps) {
    super(scope, id);
    const maxTtl = props.maxTtl ?? Duration.days(365);
    if (maxTtl.toSeconds() < 60) {
      throw new Error(`maxTtl must be at least 60 seconds; got ${maxTtl.toSeconds()}.`);
    }

    // The key is the path only. The signed-URL parameters (Expires, Signature, Key-Pair-Id, Policy) are
    // verified by CloudFront before the cache lookup, so leaving them out of the key shares one cached
    // copy among every valid signature without serving anything to an invalid one.
    this.cachePolicy = new cloudfront.CachePolicy(this, "PathOnly", {
      comment: "Kiln: cache key is the path; signatures are checked before the cache",
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.days(1),
      maxTtl,
    });

    const oac = new cloudfront.S3OriginAccessControl(this, "OriginAccess", {
      description: "Kiln: CloudFront reads outputs and assets with SigV4",
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    const signedBehaviour = (bucket: s3.IBucket): cloudfront.BehaviorOptions => ({
      origin: origins.S3BucketOrigin.withOriginAccessControl(bucket, {
        originAccessControl: oac,
        originAccessLevels: [cloudfront.AccessLevel.READ],
      }),
      trustedKeyGroups: [props.keyGroup],
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: this.cachePolicy,
      compress: false,
    });

    const outputs = signedBehaviour(props.outputsBucket);
    this.distribution = new cloudfront.Distribution(this, "Distribution", {
      comment: props.comment ?? "Kiln outputs and assets",
      // Anything outside the two prefixes still needs a signature, and then finds nothing.
      defaultBehavior: outputs,
      additionalBehaviors: {
        [OUTPUTS_PATH_PATTERN]: outputs,
        [ASSETS_PATH_PATTERN]: signedBehaviour(props.assetsBucket),
      },
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      // A 403 (bad signature, or a key not there yet) or 404 must not stick once the object exists.
      errorResponses: [
        { httpStatus: 403, ttl: Duration.seconds(0) },
        { httpStatus: 404, ttl: Duration.seconds(0) },
      ],
      enableLogging: true,
      logBucket: props.logBucket,
      logFilePrefix: "cloudfront/",
    });
    this.domainName = this.distribution.distributionDomainName;

    Validations.of(this.distribution).acknowledge(
      {
        id: "AwsSolutions-CFR4",
        reason:
          "The distribution uses the default *.cloudfront.net certificate, whose viewer TLS policy CloudFront fixes; a minimum of TLSv1.2_2021 needs a custom domain and ACM certificate, which Kiln leaves to the operator.",
      },
      {
        id: "AwsSolutions-CFR1",
        reason:
          "Outputs and assets are served only on short-lived signed URLs minted for authenticated tenants; Kiln has no per-country policy to enforce.",
      },
      {
        id: "AwsSolutions-CFR2",
        reason:
          "Every request needs a valid CloudFront signature, checked before the origin is reached; a WAF web ACL (us-east-1) can be attached by the operator, at extra cost, if request inspection is required.",
      },
    );
  }
}
