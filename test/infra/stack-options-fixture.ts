/**
 * A stack with every platform option at once, in a fixed environment as `cdk synth` has with
 * credentials: shared by the options' own tests and the deploy guide's check of acknowledgements.
 */
// A fixed environment, as `cdk synth` has with credentials: the VPC and AZ lookups below are answered
// from context, so nothing leaves the machine.
export const ACCOUNT = "123456789012";
export const REGION = "eu-west-1";
export const ENV = { account: ACCOUNT, region: REGION };
export const VPC_ID = "vpc-0123456789abcdef0";
export const PRIVATE_SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"];
export const vpcLookup = {
  [`vpc-provider:account=${ACCOUNT}:filter.vpc-id=${VPC_ID}:region=${REGION}:returnAsymmetricSubnets=true`]: {
    vpcId: VPC_ID,
    vpcCidrBlock: "10.20.0.0/16",
    ownerAccountId: ACCOUNT,
    availabilityZones: [],
    subnetGroups: [
      {
        name: "Private",
        type: "Private",
        subnets: PRIVATE_SUBNETS.map((subnetId, i) => ({
          subnetId,
          cidr: `10.20.${i * 16}.0/20`,
          availabilityZone: `${REGION}${"ab"[i]}`,
          routeTableId: `rtb-0aaaaaaaaaaaaaaa${i + 1}`,
        })),
      },
    ],
  },
};
export const azLookup = {
  [`availability-zones:account=${ACCOUNT}:region=${REGION}`]: [`${REGION}a`, `${REGION}b`],
};

export const ID = "11111111-2222-3333-4444-555555555555";
export const API_CERT = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/${ID}`;
export const CDN_CERT = `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/${ID}`;
export const API_ACL = `arn:aws:wafv2:${REGION}:${ACCOUNT}:regional/webacl/kiln-api/${ID}`;
export const CDN_ACL = `arn:aws:wafv2:us-east-1:${ACCOUNT}:global/webacl/kiln-cdn/${ID}`;
export const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${ID}`;

/** Every option at once: a created key, a looked-up VPC, both domains, both web ACLs, JSON tags. */
export const ALL_OPTIONS = {
  kmsKey: "create",
  vpcId: VPC_ID,
  apiDomainName: "api.renders.example.com",
  apiCertificateArn: API_CERT,
  cdnDomainName: "cdn.renders.example.com",
  cdnCertificateArn: CDN_CERT,
  apiWebAclArn: API_ACL,
  cdnWebAclArn: CDN_ACL,
  tags: JSON.stringify({ team: "documents", "cost-center": "4711" }),
  ...vpcLookup,
};
