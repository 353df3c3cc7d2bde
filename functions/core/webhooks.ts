import { createHmac, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { addressProblem, bareHost } from "./egress-policy.js";
import { KilnError } from "./errors.js";
import type { Job } from "./job.js";
import { CORRELATION_ID_HEADER } from "./observability.js";

/**
 * Job-completion webhooks, signed the Standard Webhooks way: `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the tenant's secret.
 */

export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** Where callbacks may go: a setting, so that local stacks can call http://127.0.0.1. */
export interface CallbackUrlPolicy {
  /** URL schemes without the colon, e.g. `["https"]`. */
  readonly schemes: readonly string[];
  /**
   * When set, the only hosts allowed, trusted to resolve wherever they resolve (the local stack lists
   * 127.0.0.1 and localhost); otherwise any host whose every address is public (see
   * `callbackAddressProblem`).
   */
  readonly hosts?: readonly string[];
}

export const DEFAULT_CALLBACK_POLICY: CallbackUrlPolicy = { schemes: ["https"] };

/** Parses the comma-separated settings; an empty host list means "any public host". */
export function callbackPolicyFrom(
  schemes: string | undefined,
  hosts: string | undefined,
): CallbackUrlPolicy {
  const list = (s: string | undefined) =>
    (s ?? "")
      .split(",")
      .map((x) => x.trim().toLowerCase().replace(/:$/, ""))
      .filter(Boolean);
  const hostList = list(hosts);
  return {
    schemes: list(schemes).length > 0 ? list(schemes) : DEFAULT_CALLBACK_POLICY.schemes,
    ...(hostList.length > 0 ? { hosts: hostList } : {}),
  };
}

/** Why `url` may not be called back, or undefined when it may. */
export function callbackUrlProblem(url: string, policy: CallbackUrlPolicy): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  const scheme = parsed.protocol.replace(/:$/, "");
  if (!policy.schemes.includes(scheme)) return `must use ${policy.schemes.join(" or ")}, not ${scheme}`;
  if (parsed.username || parsed.password) return "must not carry credentials";
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (policy.hosts) {
    return policy.hosts.includes(host) ? undefined : `host ${host} is not one of ${policy.hosts.join(", ")}`;
  }
  if (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host.endsWith(".internal") ||
    isPrivateIp(host) ||
    (isIP(host) !== 0 && addressProblem(host) !== undefined)
  ) {
    return `host ${host} is not a public address`;
  }
  return undefined;
}

/**
 * Why the callback host `hostname`, which resolved to `addresses` (at least one; an IP literal resolves
 * to itself),
 * may not be connected to, or undefined when the first address may be. Every address is judged by the
 * egress classifier — loopback, private, link-local (cloud metadata), and the IPv6 forms that carry
 * them — because a name under a tenant's control can point anywhere; a host the policy lists is
 * trusted as it is.
 */
export function callbackAddressProblem(
  hostname: string,
  addresses: readonly string[],
  policy: CallbackUrlPolicy,
): string | undefined {
  const host = bareHost(hostname);
  if (policy.hosts?.includes(host)) return undefined;
  for (const address of addresses) {
    const problem = addressProblem(address);
    if (problem === undefined) continue;
    return address === host ? `host ${problem}` : `host ${host} resolves to ${address}, and ${problem}`;
  }
  return undefined;
}

/**
 * A delivery refused before any connection: the callback's host resolves to an address Kiln does not
 * call. Permanent for that delivery — retrying cannot make the address acceptable.
 */
export class CallbackRefusedError extends KilnError {
  override readonly name = "CallbackRefusedError";
  constructor(message: string) {
    super("permanent", "callback_refused", message);
  }
}

function isPrivateIp(host: string): boolean {
  const version = isIP(host);
  if (version === 4) {
    const [a = 0, b = 0] = host.split(".").map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168)
    );
  }
  if (version === 6) {
    return (
      host === "::1" ||
      host === "::" ||
      /^f[cd]/.test(host) ||
      /^fe[89ab]/.test(host) ||
      host.startsWith("::ffff:")
    );
  }
  return false;
}

export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

/** The HMAC key: the base64 after `whsec_`. */
function secretKey(secret: string): Buffer {
  return Buffer.from(
    secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret,
    "base64",
  );
}

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`, "utf8");
  return `v1,${mac.digest("base64")}`;
}

/** A tenant's signing secrets: the current one and, for a while after a rotation, the one before it. */
export interface WebhookSecrets {
  /** Signs every delivery; what `GET /v1/webhooks/secret` answers. */
  readonly current: string;
  /** The secret the last rotation replaced: deliveries are signed with it too until `expiresAt`. */
  readonly previous?: { readonly secret: string; readonly expiresAt: string };
}

/** The secrets a delivery at `now` is signed with: the current one first, then the previous one while it lasts. */
export function signingSecrets(secrets: WebhookSecrets, now: Date): string[] {
  const previous = previousInForce(secrets, now);
  return previous ? [secrets.current, previous.secret] : [secrets.current];
}

/**
 * `secrets` after a rotation at `now` to `fresh`: the old current one stays accepted for
 * `overlapSeconds` (not at all with 0); an older previous one is dropped, so at most two sign at once.
 */
export function rotateWebhookSecrets(
  secrets: WebhookSecrets | undefined,
  fresh: string,
  now: Date,
  overlapSeconds: number,
): WebhookSecrets {
  if (!secrets || overlapSeconds <= 0) return { current: fresh };
  return {
    current: fresh,
    previous: {
      secret: secrets.current,
      expiresAt: new Date(now.getTime() + overlapSeconds * 1000).toISOString(),
    },
  };
}

/** The previous secret's expiry while it is still in force, for showing to the tenant. */
export function previousSecretExpiry(secrets: WebhookSecrets, now: Date): string | undefined {
  return previousInForce(secrets, now)?.expiresAt;
}

function previousInForce(secrets: WebhookSecrets, now: Date): WebhookSecrets["previous"] {
  const { previous } = secrets;
  return previous && Date.parse(previous.expiresAt) > now.getTime() ? previous : undefined;
}

/** Two rotations of one tenant's secret at once: the other one won, and its secret is the current one. */
export class ConcurrentRotationError extends KilnError {
  override readonly name = "ConcurrentRotationError";
  constructor(tenant: string) {
    super(
      "conflict",
      "rotation_in_progress",
      `The webhook secret of tenant ${tenant} was rotated by another request at the same time: GET /v1/webhooks/secret answers the secret now in force.`,
    );
  }
}

/** One id per job: a job ends once, and retries of its event keep the id, so receivers can dedupe. */
export function webhookEventId(jobId: string): string {
  return `evt_${jobId}`;
}

export interface WebhookEvent {
  readonly type: "render.succeeded" | "render.failed";
  readonly timestamp: string;
  readonly data: {
    readonly id: string;
    readonly status: Job["status"];
    readonly createdAt: string;
    readonly updatedAt: string;
    readonly attempts: number;
    /** No URL: outputs are fetched through GET /v1/renders/{id}, which signs one at that moment. */
    readonly output?: { readonly contentType: string; readonly bytes: number; readonly sha256: string };
    readonly error?: { readonly code: string; readonly message: string };
  };
}

export function webhookEvent(job: Job): WebhookEvent {
  return {
    type: job.status === "succeeded" ? "render.succeeded" : "render.failed",
    timestamp: job.updatedAt,
    data: {
      id: job.id,
      status: job.status,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
      attempts: job.attempts,
      ...(job.output
        ? {
            output: {
              contentType: job.output.contentType,
              bytes: job.output.bytes,
              sha256: job.output.sha256,
            },
          }
        : {}),
      ...(job.error ? { error: { code: job.error.code, message: job.error.message } } : {}),
    },
  };
}

/**
 * The signed request for one delivery attempt: one `v1,…` signature per secret, space-separated, as
 * Standard Webhooks allows, so a receiver that knows either secret accepts it during a rotation.
 */
export function signedWebhookRequest(
  secrets: string | readonly string[],
  job: Job,
  now: Date,
): { headers: Record<string, string>; body: string } {
  const id = webhookEventId(job.id);
  const timestamp = Math.floor(now.getTime() / 1000);
  const body = JSON.stringify(webhookEvent(job));
  return {
    headers: {
      "content-type": "application/json",
      "user-agent": "Kiln-Webhooks/1",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": (typeof secrets === "string" ? [secrets] : secrets)
        .map((secret) => signWebhook(secret, id, timestamp, body))
        .join(" "),
      // Not signed: it only helps the receiver find Kiln's log lines for this job.
      ...(job.correlationId ? { [CORRELATION_ID_HEADER]: job.correlationId } : {}),
    },
    body,
  };
}

/** When deliveries are retried and for how long. */
export interface WebhookRetrySchedule {
  /** Waits before the 2nd, 3rd, … attempt; the last one repeats. */
  readonly delaysSeconds: readonly number[];
  /** No attempt is made later than this after the first one. */
  readonly windowSeconds: number;
}

/** Like the Standard Webhooks reference schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — within 24 h. */
export const DEFAULT_WEBHOOK_SCHEDULE: WebhookRetrySchedule = {
  delaysSeconds: [5, 300, 1800, 7200, 18_000, 36_000],
  windowSeconds: 24 * 3600,
};

/**
 * Seconds to wait before attempt `attempt + 1`, or undefined when the schedule is spent: the next
 * attempt would fall outside the window opened by the first attempt at `firstAttemptAtMs`.
 */
export function nextWebhookDelaySeconds(
  schedule: WebhookRetrySchedule,
  attempt: number,
  firstAttemptAtMs: number,
  nowMs: number,
): number | undefined {
  const delays = schedule.delaysSeconds;
  const delay = delays[Math.min(attempt - 1, delays.length - 1)];
  if (delay === undefined) return undefined;
  return nowMs + delay * 1000 - firstAttemptAtMs > schedule.windowSeconds * 1000 ? undefined : delay;
}
