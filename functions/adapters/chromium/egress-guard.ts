import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { CDPSession, HTTPRequest, Page, Protocol } from "puppeteer-core";
import {
  addressProblem,
  bareHost,
  DEFAULT_DATA_URL_MAX_BYTES,
  decideEgress,
  type EgressPolicy,
  parseIp,
} from "../../core/egress-policy.js";
import type { LivePage, RenderedDocument } from "../../core/url-source.js";
import { type Connector, pinnedConnect, type Resolver, resolveAll } from "../http/pinned-connect.js";
import { displayUrl } from "./page-readiness.js";
import { captureSession } from "./page-setup.js";

/**
 * Enforces the egress rules (core/egress-policy.ts) on everything a page asks for. Request
 * interception is switched on once per page; for each request of a render the guard decides, and for
 * an allowed http(s) URL it makes the request itself, from Node: it resolves the host, refuses if any
 * address is internal, connects to the checked address (so DNS cannot change its answer between check
 * and connect) and hands Chromium the answer, redirects included, unfollowed, so the next hop comes
 * back through the check. Chromium itself never reaches the network: it is launched with a proxy that
 * refuses everything (see `denyAllProxyArgs`), which catches what interception does not see.
 */

export type { Connector, Resolver, UpstreamRequest, UpstreamResponse } from "../http/pinned-connect.js";
export { pinnedConnect } from "../http/pinned-connect.js";

export interface EgressGuardOptions {
  /**
   * Origins always allowed, whatever they resolve to: the signed asset origin (the CDN; locally the
   * edge on 127.0.0.1).
   * @default []
   */
  readonly allowedOrigins?: readonly string[];
  /** @default DEFAULT_DATA_URL_MAX_BYTES */
  readonly dataUrlMaxBytes?: number;
  /** Largest answer the guard fetches for the page. @default 20 MiB */
  readonly maxResponseBytes?: number;
  /** @default every address from dns.promises.lookup */
  readonly resolve?: Resolver;
  /** @default node:http / node:https pinned to the checked address */
  readonly connect?: Connector;
  /**
   * Host names served on this machine, for a local stack only (KILN_LOCAL_HOSTS): each is reached at
   * its mapped address and port, never resolved, and still only when the tenant allowlists it. No
   * other name reaches a loopback address.
   * @default none
   */
  readonly localHosts?: ReadonlyMap<string, LocalHostTarget>;
}

/** Where a local host name is served: an IP address and a port. */
export interface LocalHostTarget {
  readonly address: string;
  readonly port: number;
}

export interface BlockedRequest {
  /** As shown to people: no query, so no signature is echoed. */
  readonly url: string;
  readonly reason: string;
  /** The page tried to leave the rendered content (top-level navigation, a new window). */
  readonly navigation: boolean;
}

/** One render's view of the guard: what it blocked so far. */
export interface RenderEgress {
  readonly blocked: readonly BlockedRequest[];
  /** Settles with the first blocked request the render must fail for. */
  readonly failed: Promise<BlockedRequest>;
  /** A live page's main document as last served (after redirects), once it has arrived. */
  document(): RenderedDocument | undefined;
  /** Origins the render fetched from: where a live page may have left storage behind. */
  readonly origins: ReadonlySet<string>;
  /** Stops the render's fetches still under way. */
  end(): void;
}

interface ActiveRender {
  readonly policy: EgressPolicy;
  readonly blocked: BlockedRequest[];
  readonly controller: AbortController;
  readonly failOn: (blocked: BlockedRequest) => boolean;
  readonly fail: (blocked: BlockedRequest) => void;
  /** A live page: its origin, and the headers (cookies included) only requests to it get. */
  readonly live?: { readonly origin: string; readonly headers: Readonly<Record<string, string>> };
  document?: RenderedDocument;
  readonly origins: Set<string>;
}

const MAX_RESPONSE_BYTES = 20 * 1024 * 1024;

/** Headers Node sets itself, or that describe a connection rather than the request. */
const DROPPED_REQUEST_HEADERS = new Set(["host", "connection", "keep-alive", "accept-encoding", "cookie"]);

/** Chromium's own refusal of file:, chrome:, view-source: and the like, logged with the URL. */
const LOCAL_RESOURCE_REFUSAL = /^Not allowed to load local resource: (\S+)/;

export class EgressGuard {
  readonly #allowedOrigins: readonly string[];
  readonly #dataUrlMaxBytes: number;
  readonly #maxResponseBytes: number;
  readonly #resolve: Resolver;
  readonly #connect: Connector;
  readonly #localHosts: ReadonlyMap<string, LocalHostTarget>;
  readonly #renders = new WeakMap<Page, ActiveRender>();

  constructor(options: EgressGuardOptions = {}) {
    this.#allowedOrigins = options.allowedOrigins ?? [];
    this.#dataUrlMaxBytes = options.dataUrlMaxBytes ?? DEFAULT_DATA_URL_MAX_BYTES;
    this.#maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.#resolve = options.resolve ?? resolveAll;
    this.#connect = options.connect ?? pinnedConnect;
    this.#localHosts = options.localHosts ?? new Map();
  }

  /** Once per page, when it is opened: every request of the page is decided from now on. */
  async install(page: Page): Promise<void> {
    page.on("request", (request) => {
      void this.#onRequest(page, request);
    });
    // A window the template opens is blocked (--block-new-web-contents) and closed if it appears.
    page.on("popup", (popup) => {
      void popup?.close().catch(() => undefined);
    });
    page.on("workercreated", (worker) => {
      // Worker requests are intercepted with the page's; only a worker's WebSockets are not.
      worker.client.on("Network.webSocketCreated", (event) => this.#onWebSocket(page, event));
      void worker.client.send("Network.enable").catch(() => undefined);
    });
    const session: CDPSession = await captureSession(page);
    session.on("Network.webSocketCreated", (event) => this.#onWebSocket(page, event));
    session.on("Page.windowOpen", (event) =>
      this.#record(page, {
        url: displayUrl(event.url),
        reason: "new windows are not allowed",
        navigation: true,
      }),
    );
    session.on("Log.entryAdded", ({ entry }) => {
      const refused = LOCAL_RESOURCE_REFUSAL.exec(entry.text)?.[1];
      if (refused) this.#record(page, this.#blocked(refused, decideEgress(refused, this.#policy([])), false));
    });
    await Promise.all([
      page.setRequestInterception(true),
      session.send("Network.enable"),
      session.send("Page.enable"),
      session.send("Log.enable"),
    ]);
  }

  /**
   * Starts a render on `page` with the tenant's allowlist. A blocked request fails the render (see
   * `failed`) unless `ignoreBlocked`; leaving the page always does. With `live`, the render navigates
   * to that page: main-frame navigations (the page and its redirects) are decided like any request,
   * and its headers and cookies go with requests to its own origin only.
   */
  begin(
    page: Page,
    options: { allowHosts: readonly string[]; ignoreBlocked: boolean; live?: LivePage },
  ): RenderEgress {
    let fail: (blocked: BlockedRequest) => void = () => undefined;
    const failed = new Promise<BlockedRequest>((resolve) => {
      fail = resolve;
    });
    const render: ActiveRender = {
      policy: this.#policy(options.allowHosts),
      blocked: [],
      controller: new AbortController(),
      failOn: (b) => b.navigation || !options.ignoreBlocked,
      fail,
      ...(options.live ? { live: liveRequestHeaders(options.live) } : {}),
      origins: new Set(),
    };
    this.#renders.set(page, render);
    return {
      blocked: render.blocked,
      failed,
      document: () => render.document,
      origins: render.origins,
      end: () => {
        render.controller.abort();
        if (this.#renders.get(page) === render) this.#renders.delete(page);
      },
    };
  }

  #policy(allowHosts: readonly string[]): EgressPolicy {
    return {
      allowedOrigins: this.#allowedOrigins,
      allowHosts,
      dataUrlMaxBytes: this.#dataUrlMaxBytes,
      localHosts: [...this.#localHosts.keys()],
    };
  }

  #record(page: Page, blocked: BlockedRequest): void {
    const render = this.#renders.get(page);
    if (!render) return;
    render.blocked.push(blocked);
    if (render.failOn(blocked)) render.fail(blocked);
  }

  #blocked(url: string, decision: ReturnType<typeof decideEgress>, navigation: boolean): BlockedRequest {
    const reason = decision.verdict === "blocked" ? decision.reason : "it is not allowed";
    return { url: displayUrl(url), reason, navigation };
  }

  #onWebSocket(page: Page, event: Protocol.Network.WebSocketCreatedEvent): void {
    this.#record(page, {
      url: displayUrl(event.url),
      reason: "WebSockets are not allowed",
      navigation: false,
    });
  }

  async #onRequest(page: Page, request: HTTPRequest): Promise<void> {
    const url = request.url();
    const render = this.#renders.get(page);
    const navigation = request.isNavigationRequest() && request.frame() === page.mainFrame();
    // Between renders the pool only ever navigates the page to about:blank; only a live page's
    // render navigates it elsewhere.
    if (!render || (navigation && !render.live)) {
      if (url === "about:blank" && !render) return settle(request.continue());
      const reason = render
        ? "the page may not navigate away from the rendered content"
        : "no render is running";
      this.#record(page, { url: displayUrl(url), reason, navigation: true });
      return settle(request.abort("blockedbyclient"));
    }
    const decision = decideEgress(url, render.policy);
    if (decision.verdict === "local") return settle(request.continue());
    if (decision.verdict === "blocked") {
      this.#record(page, this.#blocked(url, decision, navigation));
      return settle(request.abort("blockedbyclient"));
    }
    try {
      const address = await this.#checkedAddress(decision.url, decision.trusted);
      if ("reason" in address) {
        this.#record(page, { url: displayUrl(url), reason: address.reason, navigation });
        return settle(request.abort("blockedbyclient"));
      }
      const ownOrigin = render.live?.origin === decision.url.origin;
      const response = await this.#connect({
        url: decision.url,
        address: address.ip,
        ...(address.port === undefined ? {} : { port: address.port }),
        method: request.method(),
        headers: {
          ...forwardedHeaders(request.headers()),
          ...(ownOrigin ? render.live?.headers : {}),
        },
        ...(request.hasPostData() ? { body: Buffer.from(request.postData() ?? "", "utf8") } : {}),
        signal: render.controller.signal,
        maxBytes: this.#maxResponseBytes,
      });
      render.origins.add(decision.url.origin);
      if (navigation && (response.status < 300 || response.status >= 400)) {
        render.document = {
          url: decision.url.href,
          sha256: createHash("sha256").update(response.body).digest("hex"),
        };
      }
      await request.respond({
        status: response.status,
        headers: { ...response.headers, "access-control-allow-origin": "*" },
        body: response.body,
      });
    } catch {
      // Not a policy matter (DNS failure, refused connection, aborted render): a plain network error.
      await settle(request.abort("failed"));
    }
  }

  /** The address to connect to, or why none may be: every resolved address must be public. */
  async #checkedAddress(
    url: URL,
    trusted: boolean,
  ): Promise<{ ip: string; port?: number } | { reason: string }> {
    const host = bareHost(url.hostname);
    const local = this.#localHosts.get(host);
    if (local) return { ip: local.address, port: local.port };
    if (parseIp(host)) return { ip: host };
    const addresses = await this.#resolve(host);
    const first = addresses[0];
    if (first === undefined) throw new Error(`${host} has no addresses`);
    if (!trusted) {
      for (const address of addresses) {
        const problem = addressProblem(address);
        if (problem) return { reason: `${host} resolves to ${address}, and ${problem}` };
      }
    }
    return { ip: first };
  }
}

/** Responding to a request of a page that has just been closed fails; nothing is left to answer. */
async function settle(call: Promise<void>): Promise<void> {
  await call.catch(() => undefined);
}

/** A live page's origin, and its headers with the cookies as one Cookie header. */
function liveRequestHeaders(live: LivePage): NonNullable<ActiveRender["live"]> {
  const cookie = Object.entries(live.cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join("; ");
  return {
    origin: new URL(live.url).origin,
    // Lower case, as Chromium's own headers come: a job's header replaces Chromium's of the same name.
    headers: {
      ...Object.fromEntries(Object.entries(live.headers).map(([name, value]) => [name.toLowerCase(), value])),
      ...(cookie ? { cookie } : {}),
    },
  };
}

function forwardedHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!DROPPED_REQUEST_HEADERS.has(name.toLowerCase())) out[name] = value;
  }
  out["accept-encoding"] = "identity";
  return out;
}

let denyAll: Promise<number> | undefined;

/**
 * Launch flags that leave Chromium no direct network path: every connection it would make itself
 * (anything interception does not see, such as a WebSocket) goes to a proxy in this process that
 * refuses it. `<-loopback>` sends even loopback addresses through the proxy.
 */
export async function denyAllProxyArgs(): Promise<string[]> {
  denyAll ??= startDenyAllProxy().catch((error: unknown) => {
    denyAll = undefined;
    throw error;
  });
  const port = await denyAll;
  return [
    `--proxy-server=http://127.0.0.1:${port}`,
    "--proxy-bypass-list=<-loopback>",
    "--block-new-web-contents",
  ];
}

async function startDenyAllProxy(): Promise<number> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(403, { connection: "close" }).end();
  });
  server.on("connect", (_req, socket) => {
    socket.on("error", () => undefined);
    socket.end("HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  // Lives as long as the process's browsers do; never what keeps the process alive.
  server.unref();
  return (server.address() as AddressInfo).port;
}
