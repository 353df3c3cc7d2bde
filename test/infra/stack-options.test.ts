import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CONTEXT_KEYS, kilnPropsFromContext } from "../../lib/app.js";
import { NO_CDN_ALARM_WARNING } from "../../lib/constructs/monitoring.js";
import { KilnStack, type KilnStackProps } from "../../lib/kiln-stack.js";
import { STACK_OPTION_KEYS } from "../../lib/stack-options.js";
import {
  ACCOUNT,
  ALL_OPTIONS,
  API_ACL,
  API_CERT,
  azLookup,
  CDN_ACL,
  CDN_CERT,
  ENV,
  ID,
  KEY_ARN,
  PRIVATE_SUBNETS,
  REGION,
  VPC_ID,
} from "./stack-options-fixture.js";
import {
  actionsOf,
  allowStatementsByRole,
  asArray,
  type Cfn,
  logicalIdOf,
  onlyResource,
  resources,
  type Synthesized,
  scratchApps,
  synthKiln,
} from "./support.js";

/** Kiln's own functions (CDK's auto-delete helper is not one) by construct path. */
const KILN_FUNCTIONS = [
  "Api/ApiFunction",
  "RenderWorker/Worker",
  "Signer/SignAssets",
  "SigningKey/Provider",
  "Webhooks/Dispatcher",
  "Batches/FanOut",
  "Reconciler/Function",
];

/** The report's findings, but Kiln's own warning that a stack outside us-east-1 gets no CDN alarm. */
const violations = (s: Synthesized) =>
  (s.report?.pluginReports ?? [])
    .flatMap((r: Cfn) => r.violations ?? [])
    .filter((v: Cfn) => v.ruleName !== `Annotation::${NO_CDN_ALARM_WARNING}`);

/** `{ Ref }` / `{ Fn::GetAtt: [id, "Arn"] }` of the key, or the literal ARN of an imported one. */
const refersTo = (value: Cfn, keyId: string | undefined, literal?: string): boolean =>
  literal !== undefined
    ? value === literal
    : JSON.stringify(value) === JSON.stringify({ "Fn::GetAtt": [keyId, "Arn"] }) ||
      JSON.stringify(value) === JSON.stringify({ Ref: keyId });

/** The stores' key (the webhooks construct has its own key for webhook secrets). */
const storesKey = () => onlyResource(json, "AWS::KMS::Key", (k) => k.id === keyId);

let all: Synthesized;
let json: Cfn;
let keyId: string;
beforeAll(() => {
  vi.stubEnv("CDK_DEFAULT_ACCOUNT", ACCOUNT);
  vi.stubEnv("CDK_DEFAULT_REGION", REGION);
  // Configuration only: no bundling.
  all = synthKiln(ALL_OPTIONS, { bundling: false });
  json = all.json;
  keyId = logicalIdOf(json, "EncryptionKey/Key", "AWS::KMS::Key");
});
afterAll(() => {
  all?.dispose();
  vi.unstubAllEnvs();
});

describe("every option at once", () => {
  it("passes cdk-nag with no unacknowledged finding", () => {
    expect(violations(all)).toEqual([]);
  });

  it("lists every option among the context keys", () => {
    for (const key of Object.values(STACK_OPTION_KEYS)) expect(Object.values(CONTEXT_KEYS)).toContain(key);
  });
});

describe("kmsKey=create", () => {
  it("creates a rotating key, removed with a dev stack, that CloudWatch Logs and alarms of this account may use", () => {
    const key = storesKey();
    expect(key.properties.EnableKeyRotation).toBe(true);
    expect(key.raw.DeletionPolicy).toBe("Delete");
    const statements: Cfn[] = key.properties.KeyPolicy.Statement;
    const logs = statements.find((s) => s.Sid === "CloudWatchLogsOfThisAccount");
    expect(JSON.stringify(logs.Principal.Service)).toContain('"logs."');
    expect(JSON.stringify(logs.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"])).toContain(
      ":log-group:*",
    );
    const alarms = statements.find((s) => s.Sid === "CloudWatchAlarmsOfThisAccount");
    expect(alarms.Principal.Service).toBe("cloudwatch.amazonaws.com");
    // CloudFront's OAC reads of the encrypted buckets: decrypt only, only by distributions of the account.
    const cloudFront = statements.find((s) => s.Principal?.Service === "cloudfront.amazonaws.com");
    expect(cloudFront.Action).toBe("kms:Decrypt");
    expect(JSON.stringify(cloudFront.Condition.ArnLike["AWS:SourceArn"])).toContain(":distribution/*");
    expect(onlyResource(json, "AWS::KMS::Alias").properties.AliasName).toBe("alias/kiln-dev");
  });

  it("encrypts the table, queues, topic, log groups, secret and every bucket but the access-log bucket with it", () => {
    const sse = onlyResource(json, "AWS::DynamoDB::Table").properties.SSESpecification;
    expect(sse).toMatchObject({ SSEEnabled: true, SSEType: "KMS" });
    expect(refersTo(sse.KMSMasterKeyId, keyId)).toBe(true);

    const queues = resources(json, "AWS::SQS::Queue");
    expect(queues).toHaveLength(6);
    for (const q of queues) expect(refersTo(q.properties.KmsMasterKeyId, keyId)).toBe(true);

    expect(refersTo(onlyResource(json, "AWS::SNS::Topic").properties.KmsMasterKeyId, keyId)).toBe(true);
    expect(refersTo(onlyResource(json, "AWS::SecretsManager::Secret").properties.KmsKeyId, keyId)).toBe(true);

    const logGroups = resources(json, "AWS::Logs::LogGroup");
    expect(logGroups.length).toBe(KILN_FUNCTIONS.length + 1); // and the API's access log
    for (const g of logGroups) expect(refersTo(g.properties.KmsKeyId, keyId), g.id).toBe(true);

    const accessLogs = logicalIdOf(json, "Buckets/AccessLogs", "AWS::S3::Bucket");
    for (const bucket of resources(json, "AWS::S3::Bucket")) {
      const rule = bucket.properties.BucketEncryption.ServerSideEncryptionConfiguration[0];
      if (bucket.id === accessLogs) {
        // S3 server access logging delivers only to SSE-S3 targets.
        expect(rule.ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: "AES256" });
      } else {
        expect(rule.ServerSideEncryptionByDefault.SSEAlgorithm).toBe("aws:kms");
        expect(refersTo(rule.ServerSideEncryptionByDefault.KMSMasterKeyID, keyId)).toBe(true);
        expect(rule.BucketKeyEnabled).toBe(true);
      }
    }
  });

  it("lets every function that touches an encrypted store decrypt and generate data keys with it", () => {
    const byRole = allowStatementsByRole(json);
    const keyPolicy: Cfn[] = storesKey().properties.KeyPolicy.Statement;
    for (const path of KILN_FUNCTIONS) {
      const roleId = logicalIdOf(json, `${path}/Role`, "AWS::IAM::Role");
      const onKey = (byRole.get(roleId) ?? []).filter((s) =>
        asArray(s.Resource).some((r) => refersTo(r, keyId)),
      );
      const actions = new Set(onKey.flatMap(actionsOf));
      // A secret reader may be granted in the key's own policy instead.
      for (const s of keyPolicy) {
        if (JSON.stringify(s.Principal).includes(roleId)) for (const a of actionsOf(s)) actions.add(a);
      }
      expect(actions.has("kms:Decrypt"), path).toBe(true);
    }
    // The grants Kiln writes itself (S3 objects, the reconciler's table calls, the secret write) name
    // exactly these two actions.
    for (const path of [
      "RenderWorker/Worker",
      "Reconciler/Function",
      "SigningKey/Provider",
      "Api/ApiFunction",
    ]) {
      const roleId = logicalIdOf(json, `${path}/Role`, "AWS::IAM::Role");
      const own = (byRole.get(roleId) ?? []).find(
        (s) =>
          actionsOf(s).includes("kms:Decrypt") &&
          actionsOf(s).includes("kms:GenerateDataKey") &&
          asArray(s.Resource).some((r) => refersTo(r, keyId)),
      );
      expect(own, path).toBeDefined();
    }
  });
});

describe("vpcId=<looked-up VPC>", () => {
  it("runs every Kiln function in the VPC's private subnets with a security group of its own", () => {
    const groups = new Set<string>();
    for (const path of KILN_FUNCTIONS) {
      const fn = resources(json, "AWS::Lambda::Function").find(
        (f) => f.id === logicalIdOf(json, `${path}/Function`, "AWS::Lambda::Function"),
      );
      const config = fn?.properties.VpcConfig;
      expect(config?.SubnetIds, path).toEqual(PRIVATE_SUBNETS);
      expect(config.SecurityGroupIds).toHaveLength(1);
      groups.add(JSON.stringify(config.SecurityGroupIds[0]));
      // Lambda manages the function's network interfaces through the execution role.
      const role = onlyResource(
        json,
        "AWS::IAM::Role",
        (r) => r.id === logicalIdOf(json, `${path}/Role`, "AWS::IAM::Role"),
      );
      expect(JSON.stringify(role.properties.ManagedPolicyArns)).toContain("AWSLambdaVPCAccessExecutionRole");
    }
    expect(groups.size).toBe(KILN_FUNCTIONS.length);
  });

  it("gives the render worker and the webhook dispatcher https egress only, and no ingress", () => {
    for (const path of ["RenderWorker/Worker", "Webhooks/Dispatcher"]) {
      const group = onlyResource(
        json,
        "AWS::EC2::SecurityGroup",
        (g) => g.id === logicalIdOf(json, `${path}/SecurityGroup`, "AWS::EC2::SecurityGroup"),
      );
      expect(group.properties.VpcId).toBe(VPC_ID);
      expect(group.properties.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: "0.0.0.0/0", IpProtocol: "tcp", FromPort: 443, ToPort: 443 }),
      ]);
      expect(group.properties.SecurityGroupIngress).toBeUndefined();
    }
  });

  it("adds S3 and DynamoDB gateway endpoints and the interface endpoints Kiln calls, open to Kiln's functions only", () => {
    const endpoints = resources(json, "AWS::EC2::VPCEndpoint");
    const named = endpoints.map((e) => {
      const s = JSON.stringify(e.properties.ServiceName);
      return `${e.properties.VpcEndpointType}:${s.slice(s.lastIndexOf(".") + 1).replace(/\W/g, "")}`;
    });
    expect(named.sort()).toEqual(
      [
        "Gateway:s3",
        "Gateway:dynamodb",
        "Interface:sqs",
        "Interface:secretsmanager",
        "Interface:lambda",
        "Interface:logs",
        "Interface:monitoring",
        "Interface:kms",
      ].sort(),
    );
    for (const e of endpoints) expect(e.properties.VpcId).toBe(VPC_ID);
    const endpointGroup = onlyResource(
      json,
      "AWS::EC2::SecurityGroup",
      (g) => g.id === logicalIdOf(json, "Network/EndpointSecurityGroup", "AWS::EC2::SecurityGroup"),
    );
    const ingress = resources(json, "AWS::EC2::SecurityGroupIngress").filter(
      (i) => i.properties.GroupId?.["Fn::GetAtt"]?.[0] === endpointGroup.id,
    );
    expect(ingress).toHaveLength(KILN_FUNCTIONS.length);
    for (const rule of ingress) {
      expect(rule.properties).toMatchObject({ IpProtocol: "tcp", FromPort: 443, ToPort: 443 });
      expect(rule.properties.CidrIp).toBeUndefined();
    }
  });
});

describe("custom domains", () => {
  it("maps apiDomainName (TLS 1.2, regional certificate) to the API's stage and outputs its target", () => {
    const domain = onlyResource(json, "AWS::ApiGateway::DomainName");
    expect(domain.properties).toMatchObject({
      DomainName: "api.renders.example.com",
      RegionalCertificateArn: API_CERT,
      EndpointConfiguration: { Types: ["REGIONAL"] },
      SecurityPolicy: "TLS_1_2",
    });
    const mapping = onlyResource(json, "AWS::ApiGateway::BasePathMapping");
    expect(mapping.properties.DomainName).toEqual({ Ref: domain.id });
    expect(mapping.properties.Stage).toEqual({ Ref: onlyResource(json, "AWS::ApiGateway::Stage").id });
    expect(json.Outputs.ApiDomainTarget.Value).toEqual({
      "Fn::GetAtt": [domain.id, "RegionalDomainName"],
    });
  });

  it("serves the CDN on cdnDomainName with its us-east-1 certificate and has the signer sign URLs for it", () => {
    const config = onlyResource(json, "AWS::CloudFront::Distribution").properties.DistributionConfig;
    expect(config.Aliases).toEqual(["cdn.renders.example.com"]);
    expect(config.ViewerCertificate).toMatchObject({
      AcmCertificateArn: CDN_CERT,
      MinimumProtocolVersion: "TLSv1.2_2021",
      SslSupportMethod: "sni-only",
    });
    for (const path of ["Signer/SignAssets", "RenderWorker/Worker"]) {
      const fn = onlyResource(
        json,
        "AWS::Lambda::Function",
        (f) => f.id === logicalIdOf(json, `${path}/Function`, "AWS::Lambda::Function"),
      );
      expect(fn.properties.Environment.Variables.KILN_CDN_BASE_URL, path).toBe(
        "https://cdn.renders.example.com",
      );
    }
    expect(json.Outputs.CdnDomainName.Value).toBe("cdn.renders.example.com");
  });
});

describe("web ACLs", () => {
  it("associates apiWebAclArn with the API stage and sets cdnWebAclArn on the distribution", () => {
    const association = onlyResource(json, "AWS::WAFv2::WebACLAssociation");
    expect(association.properties.WebACLArn).toBe(API_ACL);
    const stageArn = JSON.stringify(association.properties.ResourceArn);
    expect(stageArn).toContain(`arn:aws:apigateway:${REGION}::/restapis/`);
    expect(stageArn).toContain(onlyResource(json, "AWS::ApiGateway::Stage").id);
    expect(onlyResource(json, "AWS::CloudFront::Distribution").properties.DistributionConfig.WebACLId).toBe(
      CDN_ACL,
    );
  });
});

describe("security headers on the CDN", () => {
  it("sends HSTS for at least a year with subdomains, nosniff, DENY, no referrer and a strict CSP on every behaviour", () => {
    const policy = onlyResource(json, "AWS::CloudFront::ResponseHeadersPolicy");
    const headers = policy.properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    expect(headers.StrictTransportSecurity.AccessControlMaxAgeSec).toBeGreaterThanOrEqual(365 * 24 * 3600);
    expect(headers.StrictTransportSecurity.IncludeSubdomains).toBe(true);
    expect(headers.ContentTypeOptions.Override).toBe(true);
    expect(headers.FrameOptions.FrameOption).toBe("DENY");
    expect(headers.ReferrerPolicy.ReferrerPolicy).toBe("no-referrer");
    const csp: string = headers.ContentSecurityPolicy.ContentSecurityPolicy;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src|'unsafe-eval'/);
    const config = onlyResource(json, "AWS::CloudFront::Distribution").properties.DistributionConfig;
    for (const behaviour of [config.DefaultCacheBehavior, ...config.CacheBehaviors]) {
      expect(behaviour.ResponseHeadersPolicyId).toEqual({ Ref: policy.id });
    }
  });
});

describe("tags", () => {
  it("puts the user's tags and kiln:stage on every taggable resource and on the stack", () => {
    const taggable = [
      "AWS::KMS::Key",
      "AWS::S3::Bucket",
      "AWS::DynamoDB::Table",
      "AWS::SQS::Queue",
      "AWS::SNS::Topic",
      "AWS::Logs::LogGroup",
      "AWS::Lambda::Function",
      "AWS::IAM::Role",
      "AWS::SecretsManager::Secret",
      "AWS::EC2::SecurityGroup",
      "AWS::CloudFront::Distribution",
      "AWS::ApiGateway::RestApi",
      "AWS::ApiGateway::Stage",
      "AWS::ApiGateway::DomainName",
      "AWS::CloudWatch::Alarm",
    ];
    let checked = 0;
    for (const type of taggable) {
      for (const r of resources(json, type)) {
        const tags = Object.fromEntries(asArray<Cfn>(r.properties.Tags).map((t) => [t.Key, t.Value]));
        expect(tags, `${type} ${r.id}`).toMatchObject({
          team: "documents",
          "cost-center": "4711",
          "kiln:stage": "dev",
        });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(all.stack.tags.tagValues()).toMatchObject({ team: "documents", "kiln:stage": "dev" });
  });
});

describe("vpc=create with kmsKeyArn and key=value tags", () => {
  let created: Synthesized;
  let cjson: Cfn;
  beforeAll(() => {
    created = synthKiln(
      { vpc: "create", kmsKeyArn: KEY_ARN, tags: "team=documents,owner=platform", ...azLookup },
      { bundling: false },
    );
    cjson = created.json;
  });
  afterAll(() => created?.dispose());

  it("creates a VPC with private subnets behind NAT in two AZs, and a flow log, and passes cdk-nag", () => {
    expect(resources(cjson, "AWS::EC2::VPC")).toHaveLength(1);
    const subnets = resources(cjson, "AWS::EC2::Subnet");
    expect(subnets).toHaveLength(4);
    expect(new Set(subnets.map((s) => s.properties.AvailabilityZone))).toEqual(
      new Set([`${REGION}a`, `${REGION}b`]),
    );
    expect(resources(cjson, "AWS::EC2::NatGateway")).toHaveLength(2);
    const flowLog = onlyResource(cjson, "AWS::EC2::FlowLog");
    expect(flowLog.properties.TrafficType).toBe("REJECT");
    expect(violations(created)).toEqual([]);
    for (const path of KILN_FUNCTIONS) {
      const fn = onlyResource(
        cjson,
        "AWS::Lambda::Function",
        (f) => f.id === logicalIdOf(cjson, `${path}/Function`, "AWS::Lambda::Function"),
      );
      expect(fn.properties.VpcConfig.SubnetIds, path).toHaveLength(2);
    }
  });

  it("uses the existing key for every store and grant, and creates none", () => {
    // The only keys are those of secrets used directly: webhook secrets, and URL jobs' headers and cookies.
    expect(
      resources(cjson, "AWS::KMS::Key")
        .map((k) => k.id)
        .sort(),
    ).toEqual(
      [
        logicalIdOf(cjson, "Webhooks/SecretsKey", "AWS::KMS::Key"),
        logicalIdOf(cjson, "RenderWorker/PageSecretsKey", "AWS::KMS::Key"),
      ].sort(),
    );
    expect(onlyResource(cjson, "AWS::DynamoDB::Table").properties.SSESpecification.KMSMasterKeyId).toBe(
      KEY_ARN,
    );
    for (const q of resources(cjson, "AWS::SQS::Queue")) expect(q.properties.KmsMasterKeyId).toBe(KEY_ARN);
    for (const g of resources(cjson, "AWS::Logs::LogGroup")) expect(g.properties.KmsKeyId).toBe(KEY_ARN);
    const roleId = logicalIdOf(cjson, "RenderWorker/Worker/Role", "AWS::IAM::Role");
    const onKey = (allowStatementsByRole(cjson).get(roleId) ?? []).filter((s) =>
      asArray(s.Resource).includes(KEY_ARN),
    );
    expect(onKey.flatMap(actionsOf)).toEqual(expect.arrayContaining(["kms:Decrypt", "kms:GenerateDataKey"]));
  });

  it("tags from key=value pairs", () => {
    const tags = asArray<Cfn>(onlyResource(cjson, "AWS::DynamoDB::Table").properties.Tags);
    expect(Object.fromEntries(tags.map((t) => [t.Key, t.Value]))).toEqual({
      team: "documents",
      owner: "platform",
      "kiln:stage": "dev",
    });
  });
});

describe("context validation", () => {
  const parse = (context: Record<string, unknown>) => () => kilnPropsFromContext((key) => context[key]);

  it("names the key option that is wrong and what to set", () => {
    expect(parse({ kmsKey: "yes" })).toThrow(/--context kmsKey accepts only "create".*kmsKeyArn=<key arn>/);
    expect(parse({ kmsKey: "create", kmsKeyArn: KEY_ARN })).toThrow(
      /--context kmsKey and --context kmsKeyArn exclude each other/,
    );
    expect(parse({ kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/kiln` })).toThrow(
      /--context kmsKeyArn must be a KMS key ARN/,
    );
    expect(parse({ kmsKeyArn: "" })).toThrow(/--context kmsKeyArn must be a non-empty string/);
  });

  it("names the network option that is wrong", () => {
    expect(parse({ vpc: "default" })).toThrow(/--context vpc accepts only "create".*vpcId=<vpc-…>/);
    expect(parse({ vpc: "create", vpcId: VPC_ID })).toThrow(
      /--context vpc and --context vpcId exclude each other/,
    );
    expect(parse({ vpcId: "my-vpc" })).toThrow(/--context vpcId must be a VPC id/);
  });

  it("wants each domain with its certificate, and names both keys", () => {
    expect(parse({ apiDomainName: "api.example.com" })).toThrow(
      "--context apiDomainName and --context apiCertificateArn must be given together",
    );
    expect(parse({ cdnCertificateArn: CDN_CERT })).toThrow(
      "--context cdnDomainName and --context cdnCertificateArn must be given together",
    );
    expect(parse({ apiDomainName: "https://api.example.com", apiCertificateArn: API_CERT })).toThrow(
      /--context apiDomainName must be a fully qualified domain name/,
    );
    expect(parse({ cdnDomainName: "cdn.example.com", cdnCertificateArn: "cert-1" })).toThrow(
      /--context cdnCertificateArn must be an ACM certificate ARN/,
    );
  });

  it("checks web ACL ARNs for shape and scope", () => {
    expect(parse({ apiWebAclArn: CDN_ACL })).toThrow(
      /--context apiWebAclArn must be a REGIONAL web ACL.*scope global/,
    );
    expect(parse({ cdnWebAclArn: API_ACL })).toThrow(
      /--context cdnWebAclArn must be a CLOUDFRONT-scope web ACL.*scope regional/,
    );
    expect(parse({ cdnWebAclArn: `arn:aws:wafv2:${REGION}:${ACCOUNT}:global/webacl/x/${ID}` })).toThrow(
      /CLOUDFRONT-scope ACLs live in us-east-1/,
    );
    expect(parse({ apiWebAclArn: "kiln-acl" })).toThrow(
      /--context apiWebAclArn must be the ARN of a REGIONAL web ACL/,
    );
  });

  it("reads tags as JSON or key=value pairs and refuses what AWS would", () => {
    expect(kilnPropsFromContext((k) => ({ tags: '{"a":"1","b c":""}' })[k]).tags).toEqual({
      a: "1",
      "b c": "",
    });
    expect(kilnPropsFromContext((k) => ({ tags: "a=1, b=x=y" })[k]).tags).toEqual({ a: "1", b: "x=y" });
    expect(parse({ tags: "{team:docs}" })).toThrow(/--context tags must be a JSON object.*does not parse/);
    expect(parse({ tags: "team" })).toThrow(/--context tags .*"team" has no "="/);
    expect(parse({ tags: '{"n":1}' })).toThrow('--context tags: the value of "n" must be a string; got 1.');
    expect(parse({ tags: "aws:owner=me" })).toThrow(/reserved aws: prefix/);
    expect(parse({ tags: `${"k".repeat(129)}=v` })).toThrow(/must be 1–128 letters/);
    expect(parse({ tags: `k=${"v".repeat(257)}` })).toThrow(/the value of "k" must be at most 256/);
    expect(parse({ tags: "k=a;b" })).toThrow(/the value of "k" must be at most 256 letters/);
    expect(parse({ tags: "a=1,a=2" })).toThrow('key "a" is given twice');
    const fifty = Array.from({ length: 50 }, (_, i) => `k${i}=v`).join(",");
    expect(parse({ tags: fifty })).toThrow(/at most 49 tags .*got 50/);
  });
});

describe("validation that needs the stack's environment", () => {
  const apps = scratchApps();
  afterAll(() => apps.dispose());
  const build = (props: Partial<KilnStackProps>) =>
    new KilnStack(apps.app({ context: { "aws:cdk:bundling-stacks": [] } }), "Kiln-test", {
      stage: "dev",
      env: ENV,
      ...props,
    });

  it("refuses a VPC lookup without account and region", () => {
    expect(() => build({ network: { vpcId: VPC_ID }, env: undefined })).toThrow(
      /vpcId \(--context vpcId\) looks the VPC up in the stack's account and region, which are not known: .*CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION/,
    );
  });

  it("refuses a key, an API certificate or a CDN certificate in the wrong region", () => {
    expect(() => build({ encryptionKey: { keyArn: KEY_ARN.replace(REGION, "us-west-2") } })).toThrow(
      /kmsKeyArn \(--context kmsKeyArn\) must name a key in the stack's region eu-west-1/,
    );
    expect(() => build({ apiDomain: { domainName: "api.example.com", certificateArn: CDN_CERT } })).toThrow(
      /apiCertificateArn \(--context apiCertificateArn\) must be a regional certificate in the stack's region eu-west-1; .* is in us-east-1/,
    );
    expect(() => build({ cdnDomain: { domainName: "cdn.example.com", certificateArn: API_CERT } })).toThrow(
      /cdnCertificateArn \(--context cdnCertificateArn\) must be in us-east-1, where CloudFront reads certificates; .* is in eu-west-1/,
    );
  });
});
