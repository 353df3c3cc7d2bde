import { Aws, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";

export interface KilnEncryptionKeyProps {
  /**
   * An existing key to use. Its key policy is not changed: it must let CloudWatch Logs, CloudWatch
   * alarms and CloudFront use it (docs/deploy.md lists the statements).
   * @default - a new key
   */
  readonly keyArn?: string;
  /** Applies to a created key. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Alias of a created key, without `alias/`. @default - none */
  readonly aliasName?: string;
}

/**
 * The customer-managed KMS key of every Kiln store (table, buckets but the access-log bucket, queues,
 * alarm topic, log groups, signing-key secret). A created key rotates yearly and lets the services that
 * write to those stores on Kiln's behalf use it: CloudWatch Logs (log groups of this region and
 * account) and CloudWatch alarms (publishing to the alarm topic). CloudFront's statement for the
 * OAC origins is added by the origins themselves.
 */
export class KilnEncryptionKey extends Construct {
  public readonly key: kms.IKey;
  /** True when the stack created the key (and owns its policy). */
  public readonly created: boolean;

  constructor(scope: Construct, id: string, props: KilnEncryptionKeyProps = {}) {
    super(scope, id);
    if (props.keyArn !== undefined) {
      // A KMS key serves its own region only; a key elsewhere would fail at deploy, store by store.
      const region = Stack.of(this).region;
      const keyRegion = Token.isUnresolved(props.keyArn) ? undefined : props.keyArn.split(":")[3];
      if (keyRegion && !Token.isUnresolved(region) && keyRegion !== region) {
        throw new Error(
          `kmsKeyArn (--context kmsKeyArn) must name a key in the stack's region ${region}; ${props.keyArn} is in ${keyRegion}.`,
        );
      }
      this.created = false;
      this.key = kms.Key.fromKeyArn(this, "Key", props.keyArn);
    } else {
      this.created = true;
      const key = new kms.Key(this, "Key", {
        description: "Kiln: encrypts jobs, objects, queues, alarms, logs and the signing key",
        enableKeyRotation: true,
        alias: props.aliasName,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: "CloudWatchLogsOfThisAccount",
          principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
          actions: [
            "kms:Encrypt*",
            "kms:Decrypt*",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
          ],
          resources: ["*"],
          conditions: {
            ArnLike: {
              "kms:EncryptionContext:aws:logs:arn": `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
            },
          },
        }),
      );
      // Alarms publish to the encrypted topic as cloudwatch.amazonaws.com.
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: "CloudWatchAlarmsOfThisAccount",
          principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
          actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
          resources: ["*"],
          conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
        }),
      );
      this.key = key;
    }
    // The CDN's OAC origins add cloudfront.amazonaws.com (kms:Decrypt) to a created key's policy. Its
    // SourceArn can only be `distribution/*` of this account: the key encrypts the buckets the
    // distribution's origins name, so naming the distribution in the key's policy would be a cycle.
    Validations.of(this).acknowledge({
      id: "Annotation::@aws-cdk/aws-cloudfront-origins:wildcardKeyPolicyForOac",
      reason:
        "A key policy naming the distribution would close a cycle (key, buckets, distribution); the statement allows only kms:Decrypt by CloudFront distributions of this account. docs/deploy.md shows how to narrow it after the first deploy, and the statement an existing key needs.",
    });
  }
}

/**
 * Lets `grantee` use `key` for a store it reads (kms:Decrypt) or also writes (kms:GenerateDataKey too)
 * through its own policy statements. Does nothing when the store has no customer-managed key.
 */
export function grantKeyUse(grantee: iam.IGrantable, key: kms.IKey | undefined, write = true): void {
  if (!key) return;
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: write ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
      resources: [key.keyArn],
    }),
  );
}
