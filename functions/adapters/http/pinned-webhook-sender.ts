import { bareHost, parseIp } from "../../core/egress-policy.js";
import type { WebhookSender } from "../../core/ports.js";
import { CallbackRefusedError, type CallbackUrlPolicy, callbackAddressProblem } from "../../core/webhooks.js";
import { type Connector, pinnedConnect, type Resolver, resolveAll } from "./pinned-connect.js";

export interface PinnedWebhookSenderOptions {
  /** The dispatcher's callback policy: a host it lists is trusted wherever it resolves. */
  readonly policy: CallbackUrlPolicy;
  /** @default every address from dns.promises.lookup */
  readonly resolve?: Resolver;
  /** @default node:http / node:https pinned to the checked address */
  readonly connect?: Connector;
}

/** The receiver's answer is read and dropped; a longer one fails the delivery. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * POSTs webhooks to the address it checked. The callback host is resolved once; if any address is
 * loopback, private, link-local or otherwise internal (core `callbackAddressProblem`) the delivery is
 * refused with a `CallbackRefusedError` before a connection is made; otherwise the request goes to
 * a checked address with the host name for Host and SNI, so a second lookup cannot lead elsewhere.
 * Redirects are not followed (a 3xx counts as a failed delivery): a receiver that moved must update
 * its callback URL, and a redirect must not lead Kiln elsewhere.
 */
export class PinnedWebhookSender implements WebhookSender {
  readonly #policy: CallbackUrlPolicy;
  readonly #resolve: Resolver;
  readonly #connect: Connector;

  constructor(options: PinnedWebhookSenderOptions) {
    this.#policy = options.policy;
    this.#resolve = options.resolve ?? resolveAll;
    this.#connect = options.connect ?? pinnedConnect;
  }

  async post(url: string, headers: Readonly<Record<string, string>>, body: string, timeoutMs: number) {
    const target = new URL(url);
    const signal = AbortSignal.timeout(timeoutMs);
    const host = bareHost(target.hostname);
    const addresses = parseIp(host) ? [host] : await this.#resolve(host);
    if (addresses.length === 0) throw new Error(`host ${host} has no addresses`);
    const problem = callbackAddressProblem(host, addresses, this.#policy);
    if (problem) throw new CallbackRefusedError(problem);
    const payload = Buffer.from(body, "utf8");
    // Every address passed the check; the next is tried only when one cannot be reached at all
    // (`localhost` may resolve to ::1 first while the receiver listens on 127.0.0.1).
    for (const [index, address] of addresses.entries()) {
      try {
        const answer = await this.#connect({
          url: target,
          address,
          method: "POST",
          headers: { ...headers, "content-length": String(payload.byteLength) },
          body: payload,
          signal,
          maxBytes: MAX_ANSWER_BYTES,
        });
        return { status: answer.status };
      } catch (error) {
        if (index === addresses.length - 1 || signal.aborted || !unreachable(error)) throw error;
      }
    }
    throw new Error(`host ${host} has no addresses`);
  }
}

/** The address refused or could not be routed to: nothing was sent, so another address may be tried. */
function unreachable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EADDRNOTAVAIL"
  );
}
