import { Stack } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * The id cdk-nag gives an IAM5 wildcard finding on `resource` (a string or token), so that a construct can
 * acknowledge exactly the wildcard it creates and nothing broader.
 */
export function iamResourceFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resource))}]`;
}

/** Mirrors cdk-nag's rendering of CloudFormation references: `<Logical.Attr>`, `<Ref>`, joins concatenated. */
function flatten(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\$\{/g, "<").replace(/\}/g, ">");
  if (typeof node === "object" && node !== null) {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o["Fn::Join"])) {
      const [delimiter, items] = o["Fn::Join"] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (o["Fn::Sub"] !== undefined) return flatten(o["Fn::Sub"]);
    if (Array.isArray(o["Fn::GetAtt"])) {
      const [resource, attribute] = o["Fn::GetAtt"] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (o["Fn::ImportValue"] !== undefined) return flatten(o["Fn::ImportValue"]);
    if (o.Ref !== undefined) return `<${flatten(o.Ref)}>`;
  }
  return JSON.stringify(node);
}
