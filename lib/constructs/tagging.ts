import { Aspects, CfnResource, type IAspect, type Stack, TagManager, Tags } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * Raw resource types CDK's own custom-resource providers create (auto-delete of buckets, the VPC's
 * default security group) without a tag manager, so `Tags.of` passes them by. Tag policies and SCPs
 * that require tags at creation would refuse them.
 */
const RAW_TAGGABLE_TYPES = new Set(["AWS::Lambda::Function", "AWS::IAM::Role"]);

/** Applies `tags` to every taggable resource of `stack`, including CDK's raw provider resources. */
export function tagStack(stack: Stack, tags: Readonly<Record<string, string>>): void {
  const entries = Object.entries(tags);
  for (const [key, value] of entries) Tags.of(stack).add(key, value);
  if (entries.length > 0) Aspects.of(stack).add(new TagRawResources(entries));
}

class TagRawResources implements IAspect {
  constructor(private readonly entries: readonly [string, string][]) {}

  visit(node: IConstruct): void {
    if (
      node instanceof CfnResource &&
      !TagManager.isTaggable(node) &&
      RAW_TAGGABLE_TYPES.has(node.cfnResourceType)
    ) {
      node.addPropertyOverride(
        "Tags",
        this.entries.map(([Key, Value]) => ({ Key, Value })),
      );
    }
  }
}
