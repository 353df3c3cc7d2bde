import { z } from "zod";
import { bareHost, hostMatches, isLocalhostName, parseIp } from "./egress-policy.js";
import { type FieldIssue, PermanentRenderError } from "./errors.js";
import type { SecretCipher } from "./ports.js";
import type { TenantSettings } from "./tenant-settings.js";

/**
 * A job that renders a live page (`source: { url }`) instead of a template. The page is fetched through
 * the same egress rules as a template's resources; its extra request headers and cookies are secrets:
 * the API seals them for the worker (`sealPageSecrets`) before anything is stored, so no store, log or
 * job view ever holds them in plain text, and the worker sends them only to the URL's own origin.
 */

export const URL_SOURCE_LIMITS = {
  urlChars: 2048,
  headers: 20,
  cookies: 20,
  /** Headers and cookies together as JSON: what KMS encrypts in one call (at most 4096 bytes). */
  secretBytes: 4096,
} as const;

/** RFC 9110 token: header and cookie names. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Printable ASCII and tabs: no line breaks that could start another header. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** RFC 6265 cookie-octets. */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/** Headers Kiln sets itself, or that describe the connection: a job may not send them. */
const RESERVED_HEADERS = new Set([
  "host",
  "cookie",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "accept-encoding",
  "proxy-authorization",
  "proxy-connection",
]);

const HeadersSchema = z
  .record(
    z
      .string()
      .regex(TOKEN, "must be a header name (letters, digits and !#$%&'*+.^_`|~-)")
      .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), {
        message: "is set by Kiln and may not be sent (send cookies with source.cookies)",
      }),
    z.string().max(4096).regex(HEADER_VALUE, "must be printable ASCII on one line"),
  )
  .refine((headers) => Object.keys(headers).length <= URL_SOURCE_LIMITS.headers, {
    message: `at most ${URL_SOURCE_LIMITS.headers} headers`,
  });

const CookiesSchema = z
  .record(
    z.string().regex(TOKEN, "must be a cookie name (letters, digits and !#$%&'*+.^_`|~-)"),
    z
      .string()
      .max(4096)
      .regex(COOKIE_VALUE, "must be a cookie value: no spaces, quotes, commas, semicolons or backslashes"),
  )
  .refine((cookies) => Object.keys(cookies).length <= URL_SOURCE_LIMITS.cookies, {
    message: `at most ${URL_SOURCE_LIMITS.cookies} cookies`,
  });

/** Why `raw` cannot be a URL job's page, or undefined. Whether its host is allowed is decided at render. */
export function pageUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute http(s) URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an https URL";
  if (url.username !== "" || url.password !== "") {
    return "must not carry credentials: send them in source.headers or source.cookies, which are kept secret";
  }
  const host = bareHost(url.hostname);
  if (parseIp(host)) return "must name a host, not an IP address";
  if (isLocalhostName(host)) return "must not name the machine itself";
  return undefined;
}

const UrlSourceFields = z.strictObject({
  url: z
    .string()
    .max(URL_SOURCE_LIMITS.urlChars)
    .superRefine((raw, ctx) => {
      const problem = pageUrlProblem(raw);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .describe(
      "The page to render: an https URL on a host in the tenant's egress.allowHosts (plain http only for a local stack's KILN_LOCAL_HOSTS names).",
    ),
  headers: HeadersSchema.optional().describe(
    "Extra request headers, sent only to the URL's own origin; kept secret (never stored in plain text, logged or returned).",
  ),
  cookies: CookiesSchema.optional().describe(
    "Cookies (name → value), sent only to the URL's own origin; kept secret like headers. The page's scripts do not see them.",
  ),
});

/**
 * The source as stored: the API replaces `headers` and `cookies` by `sealedSecrets`, their JSON
 * encrypted for the tenant (base64), before the request is stored.
 */
export type UrlSource = z.output<typeof UrlSourceFields> & { readonly sealedSecrets?: string };

export const UrlSourceSchema = UrlSourceFields.superRefine((source, ctx) => {
  const bytes = Buffer.byteLength(JSON.stringify(secretsOf(source)), "utf8");
  if (bytes > URL_SOURCE_LIMITS.secretBytes) {
    ctx.addIssue({
      code: "custom",
      path: ["headers"],
      message: `headers and cookies are ${bytes} bytes as JSON; at most ${URL_SOURCE_LIMITS.secretBytes} are allowed`,
    });
  }
}).transform((source): UrlSource => source);

/** What is sent with the page's own requests. */
export interface PageSecrets {
  readonly headers: Readonly<Record<string, string>>;
  readonly cookies: Readonly<Record<string, string>>;
}

/** The live page a renderer captures: where, and what goes with requests to its own origin. */
export interface LivePage extends PageSecrets {
  readonly url: string;
}

/** The main document a URL job rendered, as the job records it: it cannot be byte-deterministic. */
export interface RenderedDocument {
  /** After redirects. */
  readonly url: string;
  /** Of the document's bytes as served. */
  readonly sha256: string;
}

function secretsOf(source: Pick<UrlSource, "headers" | "cookies">): PageSecrets {
  return { headers: source.headers ?? {}, cookies: source.cookies ?? {} };
}

function hasSecrets(source: UrlSource): boolean {
  return Object.keys(source.headers ?? {}).length + Object.keys(source.cookies ?? {}).length > 0;
}

/** `source` as it may be stored: headers and cookies encrypted for the tenant, nothing in plain text. */
export async function sealPageSecrets(
  cipher: SecretCipher | undefined,
  tenant: string,
  source: UrlSource,
): Promise<UrlSource> {
  if (!hasSecrets(source)) return { url: source.url };
  if (!cipher) throw new Error("Headers and cookies of URL jobs need a cipher, and none is configured.");
  const sealed = await cipher.encrypt(tenant, JSON.stringify(secretsOf(source)));
  return { url: source.url, sealedSecrets: Buffer.from(sealed).toString("base64") };
}

/** The page the worker renders for a stored source, its secrets decrypted. */
export async function openLivePage(
  cipher: SecretCipher | undefined,
  tenant: string,
  source: UrlSource,
): Promise<LivePage> {
  if (source.sealedSecrets === undefined) return { url: source.url, ...secretsOf(source) };
  if (!cipher) {
    throw new PermanentRenderError(
      "page_secrets_unavailable",
      "This worker cannot decrypt the headers and cookies of URL jobs.",
    );
  }
  const plaintext = await cipher.decrypt(tenant, Buffer.from(source.sealedSecrets, "base64"));
  return { url: source.url, ...secretsOf(JSON.parse(plaintext) as PageSecrets) };
}

/** Code of the job failure when a URL job asks for JavaScript its tenant does not allow on that host. */
export const JAVASCRIPT_NOT_ALLOWED = "javascript_not_allowed";

const hostOf = (pageUrl: string) => bareHost(new URL(pageUrl).hostname);
const named = (host: string, patterns: readonly string[] | undefined) =>
  (patterns ?? []).some((pattern) => hostMatches(host, pattern));
const javascriptRefusal = (host: string) =>
  `runs only on hosts the tenant's urlJobs.javascriptHosts names (PUT /v1/settings), and ${host} is not one`;

/**
 * At submission, against the tenant's settings as they are now: the page's host must be allowlisted,
 * and JavaScript asked for only where the settings allow it. The worker checks again when the job
 * renders (settings may change meanwhile).
 */
export function pageSettingsIssues(
  request: { readonly source?: UrlSource | undefined; readonly javascript?: boolean | undefined },
  settings: TenantSettings | undefined,
): FieldIssue[] {
  if (!request.source) return [];
  const host = hostOf(request.source.url);
  const issues: FieldIssue[] = [];
  if (!named(host, settings?.egress.allowHosts)) {
    issues.push({
      field: "source.url",
      message: `host ${host} is not in the tenant's egress.allowHosts (PUT /v1/settings)`,
    });
  }
  if (request.javascript === true && !named(host, settings?.urlJobs?.javascriptHosts)) {
    issues.push({ field: "javascript", message: javascriptRefusal(host) });
  }
  return issues;
}

/** Fails a URL job that asks for JavaScript on a host the tenant's `urlJobs.javascriptHosts` does not name. */
export function assertJavaScriptAllowed(pageUrl: string, javascriptHosts: readonly string[]): void {
  const host = hostOf(pageUrl);
  if (named(host, javascriptHosts)) return;
  throw new PermanentRenderError(JAVASCRIPT_NOT_ALLOWED, `JavaScript ${javascriptRefusal(host)}.`);
}
