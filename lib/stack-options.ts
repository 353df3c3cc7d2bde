/**
 * Context keys of the options a platform team sets on the stack: encryption key, network, custom
 * domains, web ACLs, tags. Listed in CONTEXT_KEYS (lib/app.ts) and docs/deploy.md.
 */
export const STACK_OPTION_KEYS = {
  kmsKey: "kmsKey",
  kmsKeyArn: "kmsKeyArn",
  vpc: "vpc",
  vpcId: "vpcId",
  apiDomainName: "apiDomainName",
  apiCertificateArn: "apiCertificateArn",
  cdnDomainName: "cdnDomainName",
  cdnCertificateArn: "cdnCertificateArn",
  apiWebAclArn: "apiWebAclArn",
  cdnWebAclArn: "cdnWebAclArn",
  tags: "tags",
} as const;

const K = STACK_OPTION_KEYS;

/** Customer-managed KMS key for every store that supports one. */
export type EncryptionKeyOption = { readonly create: true } | { readonly keyArn: string };
/** Where the functions run. */
export type NetworkOption = { readonly create: true } | { readonly vpcId: string };

export interface CustomDomainOption {
  readonly domainName: string;
  /** ACM certificate covering `domainName`. */
  readonly certificateArn: string;
}

/** The stack options, as KilnStackProps takes them. */
export interface StackOptions {
  /** @default - AWS managed keys (SSE-S3, SSE-SQS, DynamoDB's AWS-owned key, …) */
  readonly encryptionKey?: EncryptionKeyOption;
  /** @default - functions outside any VPC */
  readonly network?: NetworkOption;
  /** Regional certificate in the stack's region. @default - only the execute-api URL */
  readonly apiDomain?: CustomDomainOption;
  /** Certificate in us-east-1 (CloudFront's rule). @default - only the *.cloudfront.net domain */
  readonly cdnDomain?: CustomDomainOption;
  /** REGIONAL web ACL associated with the API stage. @default - none */
  readonly apiWebAclArn?: string;
  /** CLOUDFRONT-scope web ACL (created in us-east-1) on the distribution. @default - none */
  readonly cdnWebAclArn?: string;
  /** Applied to every taggable resource, besides `kiln:stage`. @default - none */
  readonly tags?: { [key: string]: string };
}

type ContextReader = (key: string) => unknown;

// A key ARN, not an alias ARN: IAM statements and key grants need the key itself.
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-)?[0-9a-f-]+$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[0-9a-f-]+$/;
const WEB_ACL_ARN =
  /^arn:aws[a-z-]*:wafv2:([a-z0-9-]+):\d{12}:(regional|global)\/webacl\/[\w-]+\/[0-9a-f-]+$/;
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
// A DNS name of two or more labels (RFC 1123), lower or upper case, no trailing dot, no wildcard.
const DOMAIN_NAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/;
// AWS tag limits: keys 1–128, values 0–256 characters of letters, digits, spaces and _ . : / = + - @.
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** Most user tags a resource can carry beside Kiln's own (kiln:stage), of AWS's 50. */
export const MAX_USER_TAGS = 49;

/** Reads the stack options from CDK context; every error names the context key and what to set. */
export function stackOptionsFromContext(read: ContextReader): StackOptions {
  const text = (key: string): string | undefined => {
    const raw = read(key);
    if (raw === undefined) return undefined;
    if (typeof raw !== "string" || raw.trim() === "") {
      throw new Error(`--context ${key} must be a non-empty string; got ${JSON.stringify(raw)}.`);
    }
    return raw.trim();
  };
  return {
    encryptionKey: encryptionKeyOption(text(K.kmsKey), text(K.kmsKeyArn)),
    network: networkOption(text(K.vpc), text(K.vpcId)),
    apiDomain: domainPair(
      K.apiDomainName,
      text(K.apiDomainName),
      K.apiCertificateArn,
      text(K.apiCertificateArn),
    ),
    cdnDomain: domainPair(
      K.cdnDomainName,
      text(K.cdnDomainName),
      K.cdnCertificateArn,
      text(K.cdnCertificateArn),
    ),
    apiWebAclArn: webAclArn(K.apiWebAclArn, text(K.apiWebAclArn), "regional"),
    cdnWebAclArn: webAclArn(K.cdnWebAclArn, text(K.cdnWebAclArn), "global"),
    tags: parseTags(read(K.tags)),
  };
}

function encryptionKeyOption(mode: string | undefined, keyArn: string | undefined) {
  if (mode !== undefined && keyArn !== undefined) {
    throw new Error(
      `--context ${K.kmsKey} and --context ${K.kmsKeyArn} exclude each other: set ${K.kmsKey}=create to create a key, or ${K.kmsKeyArn}=<arn> to use an existing one.`,
    );
  }
  if (mode !== undefined) {
    if (mode !== "create") {
      throw new Error(
        `--context ${K.kmsKey} accepts only "create"; to use an existing key set --context ${K.kmsKeyArn}=<key arn>. Got ${JSON.stringify(mode)}.`,
      );
    }
    return { create: true } as const;
  }
  if (keyArn !== undefined) {
    if (!KMS_KEY_ARN.test(keyArn)) {
      throw new Error(
        `--context ${K.kmsKeyArn} must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); got ${JSON.stringify(keyArn)}.`,
      );
    }
    return { keyArn } as const;
  }
  return undefined;
}

function networkOption(mode: string | undefined, vpcId: string | undefined) {
  if (mode !== undefined && vpcId !== undefined) {
    throw new Error(
      `--context ${K.vpc} and --context ${K.vpcId} exclude each other: set ${K.vpc}=create for a new VPC, or ${K.vpcId}=<vpc-…> to use an existing one.`,
    );
  }
  if (mode !== undefined) {
    if (mode !== "create") {
      throw new Error(
        `--context ${K.vpc} accepts only "create"; to use an existing VPC set --context ${K.vpcId}=<vpc-…>. Got ${JSON.stringify(mode)}.`,
      );
    }
    return { create: true } as const;
  }
  if (vpcId !== undefined) {
    if (!VPC_ID.test(vpcId)) {
      throw new Error(`--context ${K.vpcId} must be a VPC id (vpc-0123abcd…); got ${JSON.stringify(vpcId)}.`);
    }
    return { vpcId } as const;
  }
  return undefined;
}

function domainPair(
  domainKey: string,
  domainName: string | undefined,
  certificateKey: string,
  certificateArn: string | undefined,
): CustomDomainOption | undefined {
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error(
      `--context ${domainKey} and --context ${certificateKey} must be given together (a custom domain needs its ACM certificate); set both or neither.`,
    );
  }
  if (domainName === undefined || certificateArn === undefined) return undefined;
  if (!DOMAIN_NAME.test(domainName)) {
    throw new Error(
      `--context ${domainKey} must be a fully qualified domain name such as renders.example.com; got ${JSON.stringify(domainName)}.`,
    );
  }
  if (!ACM_ARN.test(certificateArn)) {
    throw new Error(
      `--context ${certificateKey} must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>); got ${JSON.stringify(certificateArn)}.`,
    );
  }
  return { domainName, certificateArn };
}

function webAclArn(key: string, arn: string | undefined, scope: "regional" | "global"): string | undefined {
  if (arn === undefined) return undefined;
  const match = WEB_ACL_ARN.exec(arn);
  const wanted =
    scope === "regional"
      ? "a REGIONAL web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>)"
      : "a CLOUDFRONT-scope web ACL (arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>)";
  if (!match) throw new Error(`--context ${key} must be the ARN of ${wanted}; got ${JSON.stringify(arn)}.`);
  if (match[2] !== scope) {
    throw new Error(`--context ${key} must be ${wanted}; ${JSON.stringify(arn)} has scope ${match[2]}.`);
  }
  if (scope === "global" && match[1] !== "us-east-1") {
    throw new Error(`--context ${key} must be ${wanted}: CLOUDFRONT-scope ACLs live in us-east-1.`);
  }
  return arn;
}

/**
 * Tags as a JSON object (`{"team":"docs"}`) or `key=value,key=value`. Keys: 1–128 characters, not
 * starting with `aws:`; values: 0–256 characters; both of letters, digits, spaces and `_ . : / = + - @`.
 */
export function parseTags(raw: unknown): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  const help = `--context ${K.tags} must be a JSON object of strings ({"team":"docs"}) or key=value pairs separated by commas (team=docs,cost-center=42)`;
  let entries: [string, unknown][];
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    entries = Object.entries(raw);
  } else if (typeof raw === "string" && raw.trim().startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error(`${help}; its JSON does not parse.`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${help}; got ${raw}.`);
    }
    entries = Object.entries(parsed);
  } else if (typeof raw === "string" && raw.trim() !== "") {
    entries = raw.split(",").map((pair) => {
      const at = pair.indexOf("=");
      if (at < 0) throw new Error(`${help}; "${pair}" has no "=".`);
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    });
  } else {
    throw new Error(`${help}; got ${JSON.stringify(raw)}.`);
  }
  if (entries.length > MAX_USER_TAGS) {
    throw new Error(
      `--context ${K.tags} may hold at most ${MAX_USER_TAGS} tags (AWS allows 50 per resource and Kiln adds kiln:stage); got ${entries.length}.`,
    );
  }
  const tags: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (typeof value !== "string") {
      throw new Error(
        `--context ${K.tags}: the value of "${key}" must be a string; got ${JSON.stringify(value)}.`,
      );
    }
    if (key.length < 1 || key.length > 128 || !TAG_TEXT.test(key)) {
      throw new Error(
        `--context ${K.tags}: key ${JSON.stringify(key)} must be 1–128 letters, digits, spaces or _ . : / = + - @.`,
      );
    }
    if (key.toLowerCase().startsWith("aws:")) {
      throw new Error(`--context ${K.tags}: key "${key}" uses the reserved aws: prefix; choose another key.`);
    }
    if (value.length > 256 || !TAG_TEXT.test(value)) {
      throw new Error(
        `--context ${K.tags}: the value of "${key}" must be at most 256 letters, digits, spaces or _ . : / = + - @.`,
      );
    }
    if (key in tags) throw new Error(`--context ${K.tags}: key "${key}" is given twice.`);
    tags[key] = value;
  }
  return tags;
}
