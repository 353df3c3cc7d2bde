import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Verifies Kiln's webhooks on the receiving side. Kiln signs them the Standard Webhooks way, so any
 * Standard Webhooks library works too; this file needs nothing but node:crypto and can be copied.
 *
 *   const event = verifyWebhook(secret, req.headers, rawBody); // throws WebhookVerificationError
 *
 * Verify the raw body exactly as received, before parsing it, and answer 2xx quickly. Use
 * `webhook-id` to drop duplicates: a delivery may be repeated.
 */

export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
}

export interface KilnWebhookEvent {
  readonly type: "render.succeeded" | "render.failed";
  readonly timestamp: string;
  readonly data: {
    readonly id: string;
    readonly status: "succeeded" | "failed";
    readonly createdAt: string;
    readonly updatedAt: string;
    readonly attempts: number;
    readonly output?: { readonly contentType: string; readonly bytes: number; readonly sha256: string };
    readonly error?: { readonly code: string; readonly message: string };
  };
}

export interface VerifyOptions {
  /** Largest accepted distance between `webhook-timestamp` and now; stops replays. @default 300 */
  readonly toleranceSeconds?: number;
  /** @default Date.now() */
  readonly nowMs?: number;
}

type Headers = Readonly<Record<string, string | readonly string[] | undefined>> | globalThis.Headers;

/** Checks the signature and timestamp of one delivery and returns its parsed event. */
export function verifyWebhook(
  secret: string,
  headers: Headers,
  rawBody: string | Uint8Array,
  options: VerifyOptions = {},
): KilnWebhookEvent & { readonly webhookId: string } {
  const id = headerOf(headers, "webhook-id");
  const timestamp = headerOf(headers, "webhook-timestamp");
  const signatures = headerOf(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(seconds)) {
    throw new WebhookVerificationError("webhook-timestamp is not whole Unix seconds");
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - seconds) > tolerance) {
    throw new WebhookVerificationError(`webhook-timestamp is more than ${tolerance} s away from now`);
  }
  const body = typeof rawBody === "string" ? rawBody : Buffer.from(rawBody).toString("utf8");
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`, "utf8").digest();
  // Several space-separated signatures may be present (e.g. while a secret is rotated): one must match.
  const matches = signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError("no signature matches: wrong secret or altered body");
  let event: KilnWebhookEvent;
  try {
    event = JSON.parse(body) as KilnWebhookEvent;
  } catch {
    throw new WebhookVerificationError("the body is not JSON");
  }
  return { ...event, webhookId: id };
}

function headerOf(headers: Headers, name: string): string | undefined {
  if (typeof (headers as globalThis.Headers).get === "function") {
    return (headers as globalThis.Headers).get(name) ?? undefined;
  }
  const entry = Object.entries(headers as Record<string, string | readonly string[] | undefined>).find(
    ([k]) => k.toLowerCase() === name,
  );
  const value = entry?.[1];
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}
