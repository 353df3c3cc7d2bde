import { lookup } from "node:dns/promises";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIPv6, type LookupFunction } from "node:net";

/**
 * Outbound HTTP to an address that was checked before the connection: the caller resolves the host
 * once, judges every address (core/egress-policy.ts `addressProblem`) and then connects to the address
 * it judged, with the URL's host name for Host and TLS SNI. No second lookup is made, so DNS cannot
 * answer differently between check and connect, and redirects are never followed: a 3xx is handed
 * back as it is, for the caller to decide.
 */

/** Every address a host name resolves to. */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

export interface UpstreamRequest {
  readonly url: URL;
  /** The checked address to connect to; the URL's host still names the server (Host, SNI). */
  readonly address: string;
  /** The port to connect to when it is not the URL's (a local stack's mapped host name). */
  readonly port?: number;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly signal: AbortSignal;
  /** Larger answers are refused. */
  readonly maxBytes: number;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Makes one request to a fixed address, without following redirects. */
export type Connector = (request: UpstreamRequest) => Promise<UpstreamResponse>;

/** Every address from `dns.promises.lookup`, in the resolver's order. */
export async function resolveAll(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
}

/** node:http(s) connected to `address` only, with the URL's host name for Host and SNI. */
export const pinnedConnect: Connector = (upstream) =>
  new Promise<UpstreamResponse>((resolve, reject) => {
    const family = isIPv6(upstream.address) ? 6 : 4;
    const pinned = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      if (options.all) callback(null, [{ address: upstream.address, family }]);
      else callback(null, upstream.address, family);
    }) as unknown as LookupFunction;
    const send = upstream.url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(upstream.url, {
      method: upstream.method,
      // Host stays the URL's own when the connection goes to another port.
      headers:
        upstream.port === undefined ? upstream.headers : { host: upstream.url.host, ...upstream.headers },
      ...(upstream.port === undefined ? {} : { port: upstream.port }),
      lookup: pinned,
      // A fresh connection per request: a pooled socket to this host name may have another address.
      agent: false,
      signal: upstream.signal,
      timeout: 30_000,
    });
    req.on("timeout", () => req.destroy(new Error("the upstream did not answer in time")));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.byteLength;
        if (bytes > upstream.maxBytes)
          res.destroy(new Error(`the answer exceeds ${upstream.maxBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on("error", reject);
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 502,
          headers: responseHeaders(res.headers),
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.end(upstream.body);
  });

/** The body handed back is already whole: headers about its encoding or the connection are dropped. */
const DROPPED_RESPONSE_HEADERS = new Set([
  "content-encoding",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "set-cookie",
]);

function responseHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
