import { Stack, Token } from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";

export interface ApiEdgeProps {
  readonly api: apigateway.RestApi;
  /**
   * A domain of your own for the API, with a regional ACM certificate in the stack's region.
   * @default - only the execute-api URL
   */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  /** ARN of a REGIONAL WAF web ACL, associated with the API's stage. @default - none */
  readonly webAclArn?: string;
}

/**
 * What sits in front of the render API when the operator asks for it: a regional custom domain (TLS 1.2)
 * mapped to the API's stage, and a WAF web ACL on that stage.
 */
export class ApiEdge extends Construct {
  public readonly domain?: apigateway.DomainName;
  /** The DNS name an alias or CNAME record for the custom domain points at. */
  public readonly domainTarget?: string;

  constructor(scope: Construct, id: string, props: ApiEdgeProps) {
    super(scope, id);
    const stage = props.api.deploymentStage;
    if (props.customDomain) {
      const { domainName, certificateArn } = props.customDomain;
      const region = Stack.of(this).region;
      const certificateRegion = Token.isUnresolved(certificateArn) ? undefined : certificateArn.split(":")[3];
      if (certificateRegion && !Token.isUnresolved(region) && certificateRegion !== region) {
        throw new Error(
          `apiCertificateArn (--context apiCertificateArn) must be a regional certificate in the stack's region ${region}; ${certificateArn} is in ${certificateRegion}.`,
        );
      }
      this.domain = new apigateway.DomainName(this, "Domain", {
        domainName,
        certificate: acm.Certificate.fromCertificateArn(this, "Certificate", certificateArn),
        endpointType: apigateway.EndpointType.REGIONAL,
        securityPolicy: apigateway.SecurityPolicy.TLS_1_2,
      });
      // The whole API at the domain's root: https://<domain>/v1/renders.
      this.domain.addBasePathMapping(props.api, { stage });
      this.domainTarget = this.domain.domainNameAliasDomainName;
    }
    if (props.webAclArn) {
      new wafv2.CfnWebACLAssociation(this, "WebAcl", {
        resourceArn: stage.stageArn,
        webAclArn: props.webAclArn,
      });
    }
  }
}
