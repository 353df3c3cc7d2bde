/**
 * Every function role holds exactly what its definition declares: each statement of the synthesized
 * roles, spread into action × resource × condition, against the same spread of the declaration on the
 * stack's resources. A grant added anywhere else, or widened, fails here with the line it added.
 */
import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_DEFINITIONS, type FunctionName } from "../../functions/handlers/definitions.js";
import type { FunctionDefinition } from "../../functions/handlers/function-definition.js";
import {
  EVENT_SOURCE_ACTIONS,
  EVENT_SOURCE_QUEUE,
  type ResourceAccess,
} from "../../functions/handlers/permissions.js";
import type { KilnStack } from "../../lib/kiln-stack.js";
import { grantDeclared } from "../../lib/permissions.js";
import {
  actionsOf,
  allowStatementsByRole,
  asArray,
  type Cfn,
  type Synthesized,
  scratchApps,
  synthKiln,
} from "./support.js";

let synth: Synthesized;
let byRole: Map<string, Cfn[]>;
beforeAll(() => {
  synth = synthKiln({ stage: "dev" }, { bundling: false });
  byRole = allowStatementsByRole(synth.json);
});
afterAll(() => synth?.dispose());

/** A CloudFormation value as text: `<Logical.Attr>`, `<Ref>`, joins concatenated. */
function show(value: Cfn): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value?.["Fn::Join"])) return value["Fn::Join"][1].map(show).join(value["Fn::Join"][0]);
  if (Array.isArray(value?.["Fn::GetAtt"])) return `<${value["Fn::GetAtt"].join(".")}>`;
  if (value?.Ref !== undefined) return `<${value.Ref}>`;
  return JSON.stringify(value);
}

const grantLine = (action: string, resource: string, conditions?: Cfn) =>
  `${action} on ${resource}${conditions && Object.keys(conditions).length ? ` if ${JSON.stringify(conditions)}` : ""}`;

/** The stack's resource behind each setting a definition declares access to, and each function's role. */
function deployment(stack: KilnStack) {
  const arn = (token: string) => show(stack.resolve(token));
  const settings: Record<string, string> = {
    jobsTable: arn(stack.jobs.table.tableArn),
    outputsBucket: arn(stack.buckets.outputs.bucketArn),
    templatesBucket: arn(stack.buckets.templates.bucketArn),
    assetsBucket: arn(stack.buckets.assets.bucketArn),
    payloadsBucket: arn(stack.payloads.bucket.bucketArn),
    renderQueueUrl: arn(stack.renderQueue.queue.queueArn),
    webhookQueueUrl: arn(stack.webhooks.queue.queueArn),
    batchQueueUrl: arn(stack.batches.queue.queueArn),
    signingKeySecretArn: arn(stack.signingKey.secret.secretArn),
    webhookSecretsKey: arn(stack.webhooks.secretsKey.keyArn),
    pageSecretsKey: arn(stack.worker.pageSecretsKey.keyArn),
  };
  // Each caller invokes the signer through its own alias, and may invoke that one only.
  const signerAlias: Partial<Record<FunctionName, string>> = {
    api: arn(stack.signer.aliases.api.functionArn),
    renderWorker: arn(stack.signer.aliases["render-worker"].functionArn),
  };
  const eventSourceQueue: Partial<Record<FunctionName, string>> = {
    renderWorker: settings.renderQueueUrl,
    webhookDispatcher: settings.webhookQueueUrl,
    batchFanOut: settings.batchQueueUrl,
  };
  const roles: Record<FunctionName, IConstruct> = {
    api: stack.api.role,
    renderWorker: stack.worker.role,
    signAssets: stack.signer.role,
    webhookDispatcher: stack.webhooks.role,
    batchFanOut: stack.batches.role,
    reconciler: stack.reconciler.role,
  };
  const roleId = (name: FunctionName) =>
    stack.getLogicalId(roles[name].node.defaultChild as Parameters<KilnStack["getLogicalId"]>[0]);
  return { settings, signerAlias, eventSourceQueue, roleId };
}

/** What a declaration grants, line by line. */
function declaredLines(name: FunctionName, resourceOf: (setting: string) => string): string[] {
  const definition: FunctionDefinition = FUNCTION_DEFINITIONS[name];
  const lines: string[] = [];
  const permissions = definition.permissions as Record<string, ResourceAccess | undefined>;
  for (const [setting, access] of Object.entries(permissions)) {
    if (!access) continue;
    const arn = resourceOf(setting);
    switch (access.service) {
      case "dynamodb":
        for (const g of access.grants) {
          const resource = g.index ? `${arn}/index/${g.index}` : arn;
          const conditions = { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [...g.partitionKeys] } };
          for (const action of g.actions) lines.push(grantLine(action, resource, conditions));
        }
        break;
      case "s3":
        for (const g of access.grants)
          for (const key of g.objectKeys)
            for (const action of g.actions) lines.push(grantLine(action, `${arn}/${key}`));
        break;
      case "kms": {
        const keys = [...access.encryptionContextKeys];
        const conditions = {
          "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": keys },
          Null: Object.fromEntries(keys.map((k) => [`kms:EncryptionContext:${k}`, "false"])),
        };
        for (const action of access.actions) lines.push(grantLine(action, arn, conditions));
        break;
      }
      default:
        for (const action of access.actions) lines.push(grantLine(action, arn));
    }
  }
  if (definition.eventSource) {
    for (const action of EVENT_SOURCE_ACTIONS) lines.push(grantLine(action, resourceOf(EVENT_SOURCE_QUEUE)));
  }
  return [...new Set(lines)].sort();
}

/** What a role holds, line by line, but for its log group and X-Ray (every function has those). */
function grantedLines(statements: Cfn[]): string[] {
  const lines = statements.flatMap((s) =>
    actionsOf(s).flatMap((action) =>
      asArray<Cfn>(s.Resource).map((resource) => grantLine(action, show(resource), s.Condition)),
    ),
  );
  return [...new Set(lines.filter((l) => !/^(logs|xray):/.test(l)))].sort();
}

describe("function roles", () => {
  const names = Object.keys(FUNCTION_DEFINITIONS) as FunctionName[];

  it.each(names)("%s holds exactly what its definition declares", (name) => {
    const { settings, signerAlias, eventSourceQueue, roleId } = deployment(synth.stack);
    const resourceOf = (setting: string) => {
      const arn =
        setting === EVENT_SOURCE_QUEUE
          ? eventSourceQueue[name]
          : setting === "signerFunctionName"
            ? signerAlias[name]
            : settings[setting];
      if (!arn) throw new Error(`the test knows no resource for ${name}'s ${setting}`);
      return arn;
    };
    const granted = grantedLines(byRole.get(roleId(name)) ?? []);
    expect(granted, `${name}'s role, beyond its logs and X-Ray`).toEqual(declaredLines(name, resourceOf));
  });

  it("log only to their own log group and trace, besides what they declare", () => {
    const { roleId } = deployment(synth.stack);
    for (const name of names) {
      const rest = (byRole.get(roleId(name)) ?? []).filter((s) =>
        actionsOf(s).some((a) => /^(logs|xray):/.test(a)),
      );
      const actions = rest.flatMap(actionsOf).sort();
      expect(actions).toEqual([
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
      ]);
      const logs = rest.find((s) => actionsOf(s).includes("logs:PutLogEvents"));
      expect(JSON.stringify(logs?.Resource)).not.toContain('"*"');
    }
  });

  it("read the jobs table only under a leading-keys condition, and never Scan or delete", () => {
    const { roleId, settings } = deployment(synth.stack);
    for (const name of names) {
      for (const s of byRole.get(roleId(name)) ?? []) {
        const dynamo = actionsOf(s).filter((a) => a.startsWith("dynamodb:"));
        if (dynamo.length === 0) continue;
        expect(
          s.Condition?.["ForAllValues:StringLike"]?.["dynamodb:LeadingKeys"],
          `${name}: ${dynamo}`,
        ).toBeDefined();
        expect(dynamo).not.toContain("dynamodb:Scan");
        expect(dynamo).not.toContain("dynamodb:DeleteItem");
        expect(dynamo).not.toContain("dynamodb:BatchWriteItem");
        for (const r of asArray<Cfn>(s.Resource)) expect(show(r)).not.toMatch(/\/index\/\*$/);
        expect(
          asArray<Cfn>(s.Resource)
            .map(show)
            .every((r) => r.startsWith(settings.jobsTable as string)),
        ).toBe(true);
      }
    }
  });
});

describe("grantDeclared", () => {
  const apps = scratchApps();
  afterAll(() => apps.dispose());

  const fixture = () => {
    const stack = new Stack(apps.app(), "Grants");
    const role = new iam.Role(stack, "Role", { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
    const key = new kms.Key(stack, "Key");
    const table = new dynamodb.Table(stack, "Table", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
    });
    const bucket = new s3.Bucket(stack, "Bucket", {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
    });
    return { stack, role, key, table, bucket };
  };
  const statementsOf = (stack: Stack) =>
    Template.fromStack(stack).findResources("AWS::IAM::Policy") as Record<string, Cfn>;
  const kmsActions = (stack: Stack, keyId: string) =>
    Object.values(statementsOf(stack))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Cfn[])
      .filter((s) => JSON.stringify(s.Resource).includes(keyId))
      .flatMap(actionsOf)
      .sort();

  it("adds the store's customer-managed key: decrypt to read, data keys too to write", () => {
    const { stack, role, key, table } = fixture();
    // The reconciler reads and updates jobs; the worker only reads templates.
    grantDeclared(role, FUNCTION_DEFINITIONS.reconciler, { jobsTable: { table } });
    const keyId = stack.getLogicalId(key.node.defaultChild as kms.CfnKey);
    expect(kmsActions(stack, keyId)).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);

    const reader = fixture();
    grantDeclared(reader.role, FUNCTION_DEFINITIONS.renderWorker, {
      templatesBucket: { bucket: reader.bucket },
    });
    const readerKey = reader.stack.getLogicalId(reader.key.node.defaultChild as kms.CfnKey);
    expect(kmsActions(reader.stack, readerKey)).toEqual(["kms:Decrypt"]);
  });

  it("refuses a resource the definition declares nothing on, or of the wrong kind, naming it", () => {
    const { role, bucket } = fixture();
    expect(() =>
      grantDeclared(role, FUNCTION_DEFINITIONS.reconciler, { outputsBucket: { bucket } } as never),
    ).toThrow("reconciler declares no access to outputsBucket");
    expect(() => grantDeclared(role, FUNCTION_DEFINITIONS.reconciler, { jobsTable: { bucket } })).toThrow(
      "reconciler's jobsTable is declared as dynamodb access: pass a table for it.",
    );
  });
});
