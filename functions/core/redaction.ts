/**
 * What Kiln never writes to a log: API keys, webhook secrets and signatures, Authorization headers,
 * the credentials in signed URLs (the path stays, so the line still says which object), and private
 * keys. Applied by every logger to the whole line, message and fields, however deeply nested.
 */

export const REDACTED = "[redacted]";

/** Field names whose value is a credential whatever it looks like (compared without case and separators). */
const SECRET_FIELDS = new Set([
  "xapikey",
  "apikey",
  "authorization",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "secret",
  "webhooksecret",
  "clientsecret",
  "password",
  "userpassword",
  "ownerpassword",
  "privatekey",
  "privatekeypem",
  "token",
  "accesstoken",
  "refreshtoken",
  "sessiontoken",
  "xamzsecuritytoken",
  "webhooksignature",
]);

const TEXT_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // PEM private keys, also when a truncated message lost the END line.
  [
    /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g,
    `${REDACTED} private key`,
  ],
  // Signed-URL credentials: CloudFront (Signature, Policy, Key-Pair-Id) and S3 presigned (X-Amz-*).
  [
    /([?&;](?:Signature|Policy|Key-Pair-Id|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&\s"'<>#\\]+/gi,
    `$1${REDACTED}`,
  ],
  [/\bkiln_[A-Za-z0-9_-]+/g, `kiln_${REDACTED}`],
  [/\bwhsec_[A-Za-z0-9+/=_-]+/g, `whsec_${REDACTED}`],
  // Standard Webhooks signatures: `v1,<base64 HMAC>`, possibly several separated by spaces.
  [/\bv1,[A-Za-z0-9+/]{20,}={0,2}/g, `v1,${REDACTED}`],
  [/\b(Bearer|Basic|AWS4-HMAC-SHA256)\s+[^\s"',;]+(?:,\s*[^\s"',;]+)*/gi, `$1 ${REDACTED}`],
  // `x-api-key: value`, `authorization=value` inside free text (error messages, dumped headers).
  [
    /\b(x-api-key|api[-_]?key|authorization|webhook-signature)(["']?\s*[:=]\s*["']?)(?!\[redacted\]|Bearer\b|Basic\b)[^\s"',;}&]+/gi,
    `$1$2${REDACTED}`,
  ],
];

/** The text with every credential Kiln knows the shape of replaced. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of TEXT_RULES) out = out.replace(pattern, replacement);
  return out;
}

function isSecretField(name: string): boolean {
  return SECRET_FIELDS.has(name.toLowerCase().replace(/[^a-z0-9]/g, ""));
}

/**
 * A redacted copy of a JSON-like value: strings are scrubbed, values under secret field names are
 * replaced whole, errors become `{ name, message, stack }`. Cycles are cut rather than followed.
 */
export function redact(value: unknown): unknown {
  return redactValue(value, new WeakSet());
}

function redactValue(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[circular]";
  seen.add(value);
  try {
    if (value instanceof Error) {
      return redactValue(
        {
          name: value.name,
          message: value.message,
          ...(value.stack ? { stack: value.stack } : {}),
          ...(value.cause !== undefined ? { cause: value.cause } : {}),
        },
        seen,
      );
    }
    if (Array.isArray(value)) return value.map((item) => redactValue(item, seen));
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        isSecretField(key) && item !== undefined && item !== null ? REDACTED : redactValue(item, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
