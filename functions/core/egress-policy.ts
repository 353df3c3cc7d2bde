/**
 * What a template may reach while it renders. Chromium runs inside a function that holds cloud
 * credentials, next to the runtime's own endpoints, so every request it makes is decided here: a few
 * schemes that never leave the page, the signed asset origin, and the https hosts a tenant allowlisted
 * — never a loopback, private, link-local or otherwise internal address, however it is spelled.
 *
 * Host spellings are left to the WHATWG URL parser wherever it canonicalises them: `new URL` turns
 * `http://2130706433/`, `0177.0.0.1`, `0x7f.1` and `127.1` into `127.0.0.1` and `[::ffff:127.0.0.1]`
 * into `[::ffff:7f00:1]`, exactly as Chromium does, so the host checked is the host Chromium connects
 * to. Addresses that come back from DNS are classified by `addressProblem`.
 */

export interface EgressPolicy {
  /**
   * Exact origins (scheme, host, port) always allowed, whatever address they resolve to: the signed
   * asset and output origin (the CDN; locally the edge on 127.0.0.1).
   */
  readonly allowedOrigins: readonly string[];
  /** The tenant's hosts: exact names or `*.example.com` wildcards, reached over https only. */
  readonly allowHosts: readonly string[];
  /** Largest `data:` URL, in decoded bytes. */
  readonly dataUrlMaxBytes: number;
  /**
   * Host names a local stack maps to servers on this machine (KILN_LOCAL_HOSTS; never on AWS). Still
   * only reached when on `allowHosts`, then over http too; where they connect is the guard's mapping.
   * @default []
   */
  readonly localHosts?: readonly string[];
}

/** Code of the job failure when a render made a request these rules refuse. */
export const EGRESS_BLOCKED = "egress_blocked";

/** Decoded bytes a `data:` URL may carry unless a renderer says otherwise. */
export const DEFAULT_DATA_URL_MAX_BYTES = 2 * 1024 * 1024;

export type EgressDecision =
  /** Served by Chromium itself without touching the network (`data:`, `about:blank`, `blob:`). */
  | { readonly verdict: "local" }
  /**
   * A network fetch. `trusted`: one of the allowed origins, exempt from the address rule; otherwise
   * every address the host resolves to must pass `addressProblem` before a connection is made.
   */
  | { readonly verdict: "network"; readonly url: URL; readonly trusted: boolean }
  | { readonly verdict: "blocked"; readonly reason: string };

const LOCAL_ABOUT = new Set(["about:blank", "about:srcdoc"]);

/** Decides one request of a render. */
export function decideEgress(rawUrl: string, policy: EgressPolicy): EgressDecision {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return blocked("it is not a valid URL");
  }
  const scheme = url.protocol.slice(0, -1);
  switch (scheme) {
    case "data": {
      const bytes = dataUrlBytes(rawUrl);
      return bytes <= policy.dataUrlMaxBytes
        ? { verdict: "local" }
        : blocked(`the data: URL holds ${bytes} bytes; at most ${policy.dataUrlMaxBytes} are allowed`);
    }
    case "about":
      return LOCAL_ABOUT.has(url.href) ? { verdict: "local" } : blocked(`${url.href} is not allowed`);
    // A blob: URL names bytes the page already holds (it is created by the page's own script, so only
    // with JavaScript on); whatever those bytes then request is decided here again.
    case "blob":
      return { verdict: "local" };
    case "http":
    case "https":
      break;
    case "ws":
    case "wss":
      return blocked("WebSockets are not allowed");
    default:
      return blocked(`the ${scheme}: scheme is never allowed`);
  }

  if (policy.allowedOrigins.some((origin) => sameOrigin(origin, url.origin))) {
    return { verdict: "network", url, trusted: true };
  }
  const host = bareHost(url.hostname);
  const ip = parseIp(host);
  if (ip) {
    return blocked(
      addressProblem(host) ?? `IP address ${host} is not an allowed host: allowlist a host name instead`,
    );
  }
  if (isLocalhostName(host)) return blocked(`${host} names the machine itself`);
  if (!policy.allowHosts.some((pattern) => hostMatches(host, pattern))) {
    return blocked(`host ${host} is not in the tenant's egress.allowHosts`);
  }
  if (policy.localHosts?.includes(host)) return { verdict: "network", url, trusted: true };
  if (scheme !== "https") return blocked(`allowlisted host ${host} is reached over https only`);
  return { verdict: "network", url, trusted: false };
}

function blocked(reason: string): EgressDecision {
  return { verdict: "blocked", reason };
}

function sameOrigin(configured: string, origin: string): boolean {
  try {
    return new URL(configured).origin === origin;
  } catch {
    return false;
  }
}

/** The host without IPv6 brackets or a trailing dot (`localhost.` is `localhost`), lower case. */
export function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();
}

export function isLocalhostName(host: string): boolean {
  const h = bareHost(host);
  return h === "localhost" || h.endsWith(".localhost");
}

/** `pattern` is an exact name or `*.example.com`, which matches subdomains at any depth but not the apex. */
export function hostMatches(host: string, pattern: string): boolean {
  const h = bareHost(host);
  const p = bareHost(pattern);
  if (p.startsWith("*.")) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  return h === p;
}

/** Decoded size of a `data:` URL's payload. */
export function dataUrlBytes(url: string): number {
  const comma = url.indexOf(",");
  if (comma < 0) return 0;
  const meta = url.slice(0, comma);
  const payload = url.slice(comma + 1);
  if (/;base64$/i.test(meta)) {
    const clean = payload.replace(/%[0-9a-f]{2}|\s/gi, "x");
    return Math.floor((clean.replace(/=+$/, "").length * 3) / 4);
  }
  return payload.replace(/%[0-9a-f]{2}/gi, "x").length;
}

type Ip =
  | { readonly v: 4; readonly bytes: readonly number[] }
  | { readonly v: 6; readonly words: readonly number[] };

/**
 * A strict parser for the canonical forms URL hosts and DNS answers come in: dotted-quad IPv4, and
 * IPv6 with `::` compression and an optional dotted IPv4 tail. Other IPv4 spellings (octal, hex,
 * short) are canonicalised by the URL parser before they get here; in a host name that is not
 * parsed as a URL they are not addresses at all.
 */
export function parseIp(text: string): Ip | undefined {
  const host = text.replace(/^\[|\]$/g, "");
  const v4 = parseIpv4(host);
  if (v4) return { v: 4, bytes: v4 };
  const v6 = parseIpv6(host);
  return v6 ? { v: 6, words: v6 } : undefined;
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : Number.NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): number[] | undefined {
  const zoneless = text.split("%", 1)[0] ?? "";
  if (!zoneless.includes(":")) return undefined;
  const halves = zoneless.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string | undefined): number[] | undefined => {
    if (!s) return [];
    const out: number[] = [];
    const pieces = s.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (!v4) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(Number.parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : undefined;
}

/** [first address, prefix length, what it is], IPv4. */
const FORBIDDEN_V4: ReadonlyArray<readonly [string, number, string]> = [
  ["0.0.0.0", 8, "an unspecified (this-network) address"],
  ["10.0.0.0", 8, "a private address"],
  ["100.64.0.0", 10, "a carrier-grade NAT address"],
  ["127.0.0.0", 8, "a loopback address"],
  ["169.254.0.0", 16, "a link-local address (cloud metadata lives here)"],
  ["172.16.0.0", 12, "a private address"],
  ["192.0.0.0", 24, "an IETF protocol address"],
  ["192.88.99.0", 24, "a 6to4 relay address"],
  ["192.168.0.0", 16, "a private address"],
  ["198.18.0.0", 15, "a benchmarking address"],
  ["224.0.0.0", 4, "a multicast address"],
  ["240.0.0.0", 4, "a reserved or broadcast address"],
];

/**
 * Why a connection to `address` (an IPv4 or IPv6 literal) is refused, or undefined when it is a
 * public address. IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, NAT64) are judged
 * by the address they carry. Documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24,
 * 2001:db8::/32) are not refused: nothing answers there, on the internet or inside a function.
 */
export function addressProblem(address: string): string | undefined {
  const ip = parseIp(bareHost(address));
  if (!ip) return `${address} is not an IP address`;
  return ip.v === 4 ? ipv4Problem(ip.bytes) : ipv6Problem(ip.words, bareHost(address));
}

function ipv4Problem(bytes: readonly number[]): string | undefined {
  const value = toUint32(bytes);
  const text = bytes.join(".");
  for (const [first, prefix, what] of FORBIDDEN_V4) {
    const base = toUint32(parseIpv4(first) ?? []);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((value & mask) >>> 0 === base) return `${text} is ${what}`;
  }
  return undefined;
}

function ipv6Problem(w: readonly number[], text: string): string | undefined {
  const at = (i: number) => w[i] ?? 0;
  const embedded = (hi: number, lo: number) => [at(hi) >> 8, at(hi) & 0xff, at(lo) >> 8, at(lo) & 0xff];
  const carried = (kind: string, v4: number[]) => {
    const problem = ipv4Problem(v4);
    return problem ? `${text} is ${kind} of ${problem}` : undefined;
  };
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);

  if (zeros(0, 8)) return `${text} is the unspecified address`;
  if (zeros(0, 7) && at(7) === 1) return `${text} is the loopback address`;
  if (zeros(0, 5) && at(5) === 0xffff) return carried("an IPv4-mapped form", embedded(6, 7));
  if (zeros(0, 6)) return `${text} is a deprecated IPv4-compatible address (of ${embedded(6, 7).join(".")})`;
  if (zeros(0, 4) && at(4) === 0xffff && at(5) === 0)
    return carried("an IPv4-translated form", embedded(6, 7));
  if (at(0) === 0x64 && at(1) === 0xff9b && zeros(2, 6)) return carried("a NAT64 form", embedded(6, 7));
  if (at(0) === 0x64 && at(1) === 0xff9b && at(2) === 1) return `${text} is a local-use NAT64 address`;
  if (at(0) === 0x2002) return carried("a 6to4 form", embedded(1, 2));
  if (at(0) === 0x2001 && at(1) === 0) return `${text} is a Teredo address`;
  if (at(0) === 0x2001 && at(1) === 2 && at(2) === 0) return `${text} is a benchmarking address`;
  if (at(0) === 0x0100 && zeros(1, 4)) return `${text} is a discard-only address`;
  if ((at(0) & 0xfe00) === 0xfc00)
    return `${text} is a unique local address (AWS metadata uses fd00:ec2::254)`;
  if ((at(0) & 0xffc0) === 0xfe80) return `${text} is a link-local address`;
  if ((at(0) & 0xffc0) === 0xfec0) return `${text} is a site-local address`;
  if ((at(0) & 0xff00) === 0xff00) return `${text} is a multicast address`;
  return undefined;
}

function toUint32(bytes: readonly number[]): number {
  return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
}
