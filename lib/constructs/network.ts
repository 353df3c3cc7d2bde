import { RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface KilnNetworkProps {
  /**
   * An existing VPC, looked up at synth (needs the stack's account and region). Kiln uses its private
   * subnets with egress, one per availability zone.
   * @default - a new VPC: public and private subnets with NAT egress in 2 AZs
   */
  readonly vpcId?: string;
  /** Key of the stack's stores: encrypts a created VPC's flow log. @default - none */
  readonly encryptionKey?: kms.IKey;
  /** Retention of a created VPC's flow log. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Applies to the flow log's log group. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The network Kiln's functions run in: private subnets with egress, gateway endpoints for S3 and
 * DynamoDB, interface endpoints for SQS, Secrets Manager, Lambda, CloudWatch Logs, CloudWatch and
 * KMS (webhook secrets, and the stores' key when there is one), so AWS traffic stays in the VPC. Each
 * function gets its own security group with https egress only (httpsOnlySecurityGroup).
 */
export class KilnNetwork extends Construct {
  public readonly vpc: ec2.IVpc;
  public readonly subnets: ec2.SubnetSelection;
  /** True when the stack created the VPC. */
  public readonly created: boolean;
  /** The interface endpoints' group: https in from Kiln's functions only. */
  public readonly endpointSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: KilnNetworkProps = {}) {
    super(scope, id);
    this.subnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, onePerAz: true };
    if (props.vpcId !== undefined) {
      const stack = Stack.of(this);
      if (Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region)) {
        throw new Error(
          "vpcId (--context vpcId) looks the VPC up in the stack's account and region, which are not known: run cdk with credentials for the account, or set CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION (or use --context vpc=create).",
        );
      }
      this.created = false;
      this.vpc = ec2.Vpc.fromLookup(this, "Vpc", { vpcId: props.vpcId });
    } else {
      this.created = true;
      const vpc = new ec2.Vpc(this, "Vpc", {
        maxAzs: 2,
        natGateways: 2,
        subnetConfiguration: [
          { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: "private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        ],
      });
      const flowLogs = new logs.LogGroup(this, "FlowLogs", {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        encryptionKey: props.encryptionKey,
      });
      vpc.addFlowLog("FlowLog", {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
        trafficType: ec2.FlowLogTrafficType.REJECT,
      });
      this.vpc = vpc;
    }

    for (const [name, service] of [
      ["S3", ec2.GatewayVpcEndpointAwsService.S3],
      ["DynamoDb", ec2.GatewayVpcEndpointAwsService.DYNAMODB],
    ] as const) {
      this.vpc.addGatewayEndpoint(`${name}Endpoint`, { service, subnets: [this.subnets] });
    }
    const interfaces: [string, ec2.InterfaceVpcEndpointAwsService][] = [
      ["Sqs", ec2.InterfaceVpcEndpointAwsService.SQS],
      ["SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ["Lambda", ec2.InterfaceVpcEndpointAwsService.LAMBDA],
      ["Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ["Monitoring", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING],
      // Webhook secrets are always KMS-encrypted, whether or not the stores use a customer key.
      ["Kms", ec2.InterfaceVpcEndpointAwsService.KMS],
    ];
    this.endpointSecurityGroup = new ec2.SecurityGroup(this, "EndpointSecurityGroup", {
      vpc: this.vpc,
      description: "Kiln VPC endpoints: https in from Kiln functions only",
      allowAllOutbound: false,
    });
    for (const [name, service] of interfaces) {
      this.vpc.addInterfaceEndpoint(`${name}Endpoint`, {
        service,
        subnets: this.subnets,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
      });
    }
  }

  /**
   * A security group for one function: no inbound rule (nothing calls a Lambda through its ENI) and
   * https (tcp/443) as the only egress, to the VPC endpoints (which admit it) and, through NAT, to the
   * internet.
   */
  httpsOnlySecurityGroup(scope: Construct, id: string, description: string): ec2.SecurityGroup {
    const group = new ec2.SecurityGroup(scope, id, { vpc: this.vpc, description, allowAllOutbound: false });
    group.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      "https only: VPC endpoints and, through NAT, the internet",
    );
    this.endpointSecurityGroup.addIngressRule(group, ec2.Port.tcp(443), `https from ${description}`);
    return group;
  }
}
