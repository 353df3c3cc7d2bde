import { Duration, Token, Validations } from "aws-cdk-lib";
import type * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as kms from "aws-cdk-lib/aws-kms";
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
  /**
   * A domain of your own for the distribution, with its ACM certificate (which CloudFront requires in
   * us-east-1). Signed URLs then name this domain.
   * @default - only the *.cloudfront.net domain
   */
  readonly customDomain?: { readonly domainName: string; readonly certificate: acm.ICertificate };
  /** ARN of a CLOUDFRONT-scope WAF web ACL. @default - none */
  readonly webAclArn?: string;
}

/**
 * Content-Security-Policy of every response: outputs are images and PDFs opened directly, never pages
 * that load anything. Images need nothing; Chromium's PDF viewer embeds the document itself (object-src
 * 'self'); image documents style themselves inline. No frame may contain an output.
 */
export const OUTPUTS_CONTENT_SECURITY_POLICY =
  "default-src 'none'; img-src 'self'; object-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The CloudFront distribution in front of the outputs and assets buckets: S3 origins reached through
 * origin access control, every path served only on a valid signed URL (trusted key group), HTTPS only,
 * a cache key of the path alone, and errors never cached.
 */
export class OutputsCdn extends Construct {
  public readonly distribution: cloudfront.Distribution;
  public readonly cachePolicy: cloudfront.CachePolicy;
  public readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  /** The domain signed URLs name: the custom domain when given, else the distribution's. */
  public readonly domainName: string;
  /** The distribution's *.cloudfront.net domain: the target of a custom domain's DNS alias. */
  public readonly distributionDomainName: string;

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

    if (props.customDomain && !Token.isUnresolved(props.customDomain.certificate.certificateArn)) {
      const region = props.customDomain.certificate.certificateArn.split(":")[3];
      if (region !== "us-east-1") {
        throw new Error(
          `cdnCertificateArn (--context cdnCertificateArn) must be in us-east-1, where CloudFront reads certificates; ${props.customDomain.certificate.certificateArn} is in ${region}.`,
        );
      }
    }

    this.responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, "SecurityHeaders", {
      comment: "Kiln: HSTS, nosniff, no framing, no referrer, a CSP for images and PDFs",
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        contentSecurityPolicy: { contentSecurityPolicy: OUTPUTS_CONTENT_SECURITY_POLICY, override: true },
      },
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
      responseHeadersPolicy: this.responseHeadersPolicy,
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
      ...(props.customDomain && {
        domainNames: [props.customDomain.domainName],
        certificate: props.customDomain.certificate,
        minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      }),
      webAclId: props.webAclArn,
    });
    this.distributionDomainName = this.distribution.distributionDomainName;
    this.domainName = props.customDomain?.domainName ?? this.distributionDomainName;

    if (
      [props.outputsBucket, props.assetsBucket].some(
        (b) => b.encryptionKey && !(b.encryptionKey instanceof kms.Key),
      )
    ) {
      Validations.of(this.distribution).acknowledge({
        id: "Annotation::@aws-cdk/aws-cloudfront-origins:updateImportedKeyPolicyOac",
        reason:
          "An existing key's policy belongs to its owner: docs/deploy.md gives the statement that lets this distribution decrypt with it (kmsKeyArn).",
      });
    }
    // With a custom domain the distribution sets TLSv1.2_2021, and with a web ACL it has one: then
    // the findings below do not arise and are not acknowledged.
    Validations.of(this.distribution).acknowledge(
      {
        id: "AwsSolutions-CFR1",
        reason:
          "Outputs and assets are served only on short-lived signed URLs minted for authenticated tenants; Kiln has no per-country policy to enforce.",
      },
      ...(props.customDomain
        ? []
        : [
            {
              id: "AwsSolutions-CFR4",
              reason:
                "Without a custom domain (cdnDomainName) the distribution uses the default *.cloudfront.net certificate, whose viewer TLS policy CloudFront fixes; with one it sets TLSv1.2_2021.",
            },
          ]),
      ...(props.webAclArn
        ? []
        : [
            {
              id: "AwsSolutions-CFR2",
              reason:
                "Every request needs a valid CloudFront signature, checked before the origin is reached; a WAF web ACL can be attached with cdnWebAclArn, at extra cost, if request inspection is required.",
            },
          ]),
    );
  }
}
