import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { type Clock, systemClock } from "../core/ports.js";
import { ObjectKeySchema } from "../core/signing-policy.js";
import { listenOnLoopback } from "./loopback.js";

export interface EdgeRoute {
  /** Object keys (= URL paths without the leading slash) starting with this are served from `bucket`. */
  readonly pathPrefix: string;
  readonly bucket: string;
}

export interface TrustedKey {
  readonly keyPairId: string;
  readonly publicKeyPem: string;
  /** From this instant the key is no longer in the key group (a rotated-out key). @default - never */
  readonly retiresAt?: Date;
}

export interface LocalEdgeOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly routes: readonly EdgeRoute[];
  readonly s3: S3Client;
  /**
   * The key group: public keys whose signatures the edge accepts, each until its `retiresAt`. A function
   * is asked on every request, so a rotation shows at once.
   */
  readonly trustedKeys: readonly TrustedKey[] | (() => readonly TrustedKey[]);
  readonly clock?: Clock;
  /** Hears every request once answered: the object key, the status, and the signed URL's Expires. */
  readonly onRequest?: (request: EdgeRequest) => void;
}

export interface EdgeRequest {
  readonly key: string;
  readonly status: number;
  /** Epoch seconds of a canned policy's `Expires`, when the URL had one. */
  readonly expires?: number;
}

export interface LocalEdge {
  /** `http://127.0.0.1:<port>`: the base URL to sign against. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The local stand-in for CloudFront in front of the outputs and assets buckets: every request needs a valid
 * CloudFront signed URL (canned or custom policy, checked as CloudFront checks it), and objects are
 * served from the S3 stand-in with their stored Content-Type, ETag and Cache-Control.
 */
export async function startLocalEdge(options: LocalEdgeOptions): Promise<LocalEdge> {
  const clock = options.clock ?? systemClock;
  const trusted = options.trustedKeys;
  const publicKeys = new Map<string, KeyObject>();
  const keyObject = (pem: string) => {
    const known = publicKeys.get(pem);
    if (known) return known;
    const key = createPublicKey(pem);
    publicKeys.set(pem, key);
    return key;
  };
  // The key group as it stands now: retired keys are out.
  const keys = (now: Date): ReadonlyMap<string, KeyObject> =>
    new Map(
      (typeof trusted === "function" ? trusted() : trusted)
        .filter((k) => k.retiresAt === undefined || k.retiresAt.getTime() > now.getTime())
        .map((k) => [k.keyPairId, keyObject(k.publicKeyPem)]),
    );
  let fallbackHost = "127.0.0.1";
  const server = createServer((req, res) => {
    if (options.onRequest) {
      const target = new URL(req.url ?? "/", "http://edge");
      const expires = Number(target.searchParams.get("Expires") ?? Number.NaN);
      const key = safeDecode(target.pathname.slice(1)) ?? target.pathname;
      res.on("finish", () =>
        options.onRequest?.({
          key,
          status: res.statusCode,
          ...(Number.isFinite(expires) ? { expires } : {}),
        }),
      );
    }
    serve(req, res, { ...options, keys, clock, fallbackHost }).catch(() => {
      // Only origin and streaming failures get here; a half-sent body can only be cut off.
      if (!res.headersSent) sendError(res, 502, "BadGateway", "The origin could not be reached.");
      else res.destroy();
    });
  });
  const { url, port, stop } = await listenOnLoopback(server, options.port);
  fallbackHost = `127.0.0.1:${port}`;
  return { url, stop };
}

interface ServeContext {
  readonly routes: readonly EdgeRoute[];
  readonly s3: S3Client;
  readonly keys: (now: Date) => ReadonlyMap<string, KeyObject>;
  readonly clock: Clock;
  readonly fallbackHost: string;
}

async function serve(req: IncomingMessage, res: ServerResponse, ctx: ServeContext): Promise<void> {
  req.resume();
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    sendError(res, 405, "MethodNotAllowed", "This distribution accepts only GET and HEAD.");
    return;
  }
  const target = req.url ?? "/";
  if (!target.startsWith("/")) {
    sendError(res, 400, "BadRequest", "Bad request.");
    return;
  }

  const now = ctx.clock.now();
  const denial = verifySignedUrl({
    url: `http://${req.headers.host ?? ctx.fallbackHost}${target}`,
    keys: ctx.keys(now),
    now,
    sourceIp: req.socket.remoteAddress,
  });
  if (denial) {
    sendError(res, 403, denial.code, denial.message);
    return;
  }

  const rawPath = target.split("?", 1)[0] ?? "/";
  let key: string;
  try {
    key = decodeURIComponent(rawPath.slice(1));
  } catch {
    sendError(res, 400, "BadRequest", "Bad request.");
    return;
  }
  const route = ctx.routes.find((r) => key.startsWith(r.pathPrefix));
  // A key that could escape its prefix is never looked up, even under a wildcard policy.
  if (!route || !ObjectKeySchema.safeParse(key).success) {
    sendNotFound(res);
    return;
  }

  const head = req.method === "HEAD";
  let object: {
    ContentType?: string | undefined;
    ContentLength?: number | undefined;
    ETag?: string | undefined;
    CacheControl?: string | undefined;
    LastModified?: Date | undefined;
    Body?: unknown;
  };
  try {
    object = head
      ? await ctx.s3.send(new HeadObjectCommand({ Bucket: route.bucket, Key: key }))
      : await ctx.s3.send(new GetObjectCommand({ Bucket: route.bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) sendNotFound(res);
    else sendError(res, 502, "BadGateway", "The origin could not be reached.");
    return;
  }

  const headers: Record<string, string | number> = {};
  if (object.ContentType) headers["content-type"] = object.ContentType;
  if (object.ContentLength !== undefined) headers["content-length"] = object.ContentLength;
  if (object.ETag) headers.etag = object.ETag;
  if (object.CacheControl) headers["cache-control"] = object.CacheControl;
  if (object.LastModified) headers["last-modified"] = object.LastModified.toUTCString();
  res.writeHead(200, headers);
  if (head || !(object.Body instanceof Readable)) {
    res.end();
    return;
  }
  await pipeline(object.Body, res);
}

export interface Denial {
  /** CloudFront's error code, e.g. `AccessDenied`. */
  readonly code: string;
  readonly message: string;
}

const SIGNING_PARAMS = new Set(["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"]);
/** `Hash-Algorithm` values; without the parameter CloudFront verifies RSA-SHA1. */
const HASH_ALGORITHMS = new Map([
  ["SHA1", "sha1"],
  ["SHA256", "sha256"],
]);
const ACCESS_DENIED: Denial = { code: "AccessDenied", message: "Access denied" };
const MALFORMED_POLICY: Denial = { code: "MalformedPolicy", message: "Malformed Policy" };

const EpochTimeSchema = z.strictObject({ "AWS:EpochTime": z.int().nonnegative() });
const CustomPolicySchema = z.strictObject({
  Statement: z
    .array(
      z.strictObject({
        Resource: z.string().optional(),
        Condition: z.strictObject({
          DateLessThan: EpochTimeSchema,
          DateGreaterThan: EpochTimeSchema.optional(),
          IpAddress: z.strictObject({ "AWS:SourceIp": z.string() }).optional(),
        }),
      }),
    )
    .length(1),
});

/**
 * Checks a CloudFront signed URL the way CloudFront does. The signed Resource is the requested URL
 * with the signing parameters removed; canned policies are rebuilt from it and `Expires`, custom
 * policies are taken from `Policy` and their Resource matched with `*` and `?` wildcards.
 * Returns undefined when the URL grants access, else the denial to send.
 */
export function verifySignedUrl(input: {
  readonly url: string;
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly now: Date;
  readonly sourceIp?: string | undefined;
}): Denial | undefined {
  const queryStart = input.url.indexOf("?");
  const base = queryStart === -1 ? input.url : input.url.slice(0, queryStart);
  const pairs = queryStart === -1 ? [] : input.url.slice(queryStart + 1).split("&");
  const params = new Map<string, string>();
  const kept: string[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const name = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    if (name === undefined || !SIGNING_PARAMS.has(name)) {
      kept.push(pair);
      continue;
    }
    const value = safeDecode(eq === -1 ? "" : pair.slice(eq + 1));
    if (value === undefined || params.has(name)) return MALFORMED_POLICY;
    params.set(name, value);
  }
  const resource = kept.length > 0 ? `${base}?${kept.join("&")}` : base;

  const keyPairId = params.get("Key-Pair-Id");
  if (!keyPairId)
    return { code: "MissingKey", message: "Missing Key-Pair-Id query parameter or cookie value" };
  const publicKey = input.keys.get(keyPairId);
  if (!publicKey) return { code: "InvalidKey", message: "Unknown Key" };

  const signature = fromCloudFrontBase64(params.get("Signature"));
  const algorithm = HASH_ALGORITHMS.get(params.get("Hash-Algorithm") ?? "SHA1");
  if (!signature || !algorithm) return MALFORMED_POLICY;

  const expires = params.get("Expires");
  const encodedPolicy = params.get("Policy");
  const nowEpoch = Math.floor(input.now.getTime() / 1000);

  if (expires !== undefined && encodedPolicy === undefined) {
    if (!/^\d{1,12}$/.test(expires)) return MALFORMED_POLICY;
    const policy = JSON.stringify({
      Statement: [{ Resource: resource, Condition: { DateLessThan: { "AWS:EpochTime": Number(expires) } } }],
    });
    if (!verify(algorithm, Buffer.from(policy, "utf8"), publicKey, signature)) return ACCESS_DENIED;
    return nowEpoch < Number(expires) ? undefined : ACCESS_DENIED;
  }

  if (encodedPolicy !== undefined && expires === undefined) {
    const policyBytes = fromCloudFrontBase64(encodedPolicy);
    if (!policyBytes) return MALFORMED_POLICY;
    if (!verify(algorithm, policyBytes, publicKey, signature)) return ACCESS_DENIED;
    let parsed: z.infer<typeof CustomPolicySchema>;
    try {
      parsed = CustomPolicySchema.parse(JSON.parse(policyBytes.toString("utf8")));
    } catch {
      return MALFORMED_POLICY;
    }
    const [statement] = parsed.Statement;
    if (!statement) return MALFORMED_POLICY;
    const { DateLessThan, DateGreaterThan, IpAddress } = statement.Condition;
    // Without a Resource a custom policy covers every object behind the key group, as on CloudFront.
    if (statement.Resource !== undefined && !wildcardMatches(statement.Resource, resource))
      return ACCESS_DENIED;
    if (nowEpoch >= DateLessThan["AWS:EpochTime"]) return ACCESS_DENIED;
    if (DateGreaterThan && nowEpoch < DateGreaterThan["AWS:EpochTime"]) return ACCESS_DENIED;
    if (IpAddress && !ipv4InCidr(input.sourceIp, IpAddress["AWS:SourceIp"])) return ACCESS_DENIED;
    return undefined;
  }

  return MALFORMED_POLICY;
}

/** CloudFront's URL-safe base64: `-` for `+`, `_` for `=`, `~` for `/`. */
function fromCloudFrontBase64(value: string | undefined): Buffer | undefined {
  if (!value || !/^[A-Za-z0-9\-_~]+$/.test(value)) return undefined;
  const bytes = Buffer.from(value.replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/"), "base64");
  return bytes.length > 0 ? bytes : undefined;
}

/** `*` matches any run of characters (including none), `?` exactly one; everything else literally. */
function wildcardMatches(pattern: string, value: string): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, "s").test(value);
}

function ipv4InCidr(address: string | undefined, cidr: string): boolean {
  const ip = parseIpv4(address?.replace(/^::ffff:/, ""));
  const [net, bitsText = "32"] = cidr.split("/");
  const network = parseIpv4(net);
  const bits = Number(bitsText);
  if (ip === undefined || network === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32)
    return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ip & mask) >>> 0 === (network & mask) >>> 0;
}

function parseIpv4(text: string | undefined): number | undefined {
  const octets = text?.split(".");
  if (octets?.length !== 4) return undefined;
  let value = 0;
  for (const octet of octets) {
    if (!/^\d{1,3}$/.test(octet) || Number(octet) > 255) return undefined;
    value = value * 256 + Number(octet);
  }
  return value;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

function sendNotFound(res: ServerResponse): void {
  sendError(res, 404, "NoSuchKey", "The specified key does not exist.");
}

/** A CloudFront-like XML error: the code and a fixed sentence, nothing about the request or the origin. */
function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, {
    "content-type": "text/xml",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}
