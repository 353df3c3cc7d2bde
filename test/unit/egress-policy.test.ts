import { describe, expect, it } from "vitest";
import {
  addressProblem,
  dataUrlBytes,
  decideEgress,
  type EgressPolicy,
  hostMatches,
} from "../../functions/core/egress-policy.js";

const POLICY: EgressPolicy = {
  allowedOrigins: ["http://127.0.0.1:4100", "https://d111.cloudfront.net"],
  allowHosts: ["cdn.tenant.example", "*.fonts.example"],
  dataUrlMaxBytes: 1000,
};
const verdict = (url: string) => decideEgress(url, POLICY);
const reason = (url: string) => {
  const d = verdict(url);
  return d.verdict === "blocked" ? d.reason : `not blocked: ${d.verdict}`;
};

describe("the URL parser canonicalises IPv4 spellings, as Chromium does", () => {
  it.each([
    ["http://2130706433/", "127.0.0.1"],
    ["http://0177.0.0.1/", "127.0.0.1"],
    ["http://0x7f.0.0.1/", "127.0.0.1"],
    ["http://0x7f000001/", "127.0.0.1"],
    ["http://127.1/", "127.0.0.1"],
    ["http://127.0.0.1./", "127.0.0.1"],
    ["http://0x7F.1/", "127.0.0.1"],
    ["http://017700000001/", "127.0.0.1"],
    ["http://0xa9fea9fe/", "169.254.169.254"],
    ["http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"],
    ["http://[0:0:0:0:0:ffff:7f00:1]/", "[::ffff:7f00:1]"],
    ["http://[64:ff9b::127.0.0.1]/", "[64:ff9b::7f00:1]"],
  ])("%s has host %s", (url, host) => {
    expect(new URL(url).hostname).toBe(host);
  });
});

describe("decideEgress", () => {
  it.each([
    "http://2130706433:4000/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
  ])("blocks loopback spelt %s", (url) => {
    expect(reason(url)).toMatch(/loopback/);
  });

  it.each([
    ["http://10.1.2.3/", /private/],
    ["http://172.16.0.1/", /private/],
    ["http://172.31.255.255/", /private/],
    ["http://192.168.1.1/", /private/],
    ["http://169.254.169.254/latest/meta-data/", /link-local/],
    ["http://100.64.0.1/", /carrier-grade NAT/],
    ["http://0.0.0.0/", /unspecified/],
    ["http://224.0.0.1/", /multicast/],
    ["http://255.255.255.255/", /reserved or broadcast/],
    ["http://198.18.0.1/", /benchmarking/],
    ["http://[fe80::1]/", /link-local/],
    ["http://[fd00:ec2::254]/", /unique local/],
    ["http://[fc00::1]/", /unique local/],
    ["http://[ff02::1]/", /multicast/],
    ["http://[::]/", /unspecified/],
    ["http://[::127.0.0.1]/", /IPv4-compatible/],
    ["http://[2002:7f00:1::]/", /6to4 form of 127\.0\.0\.1 is a loopback/],
    ["http://[2002:a9fe:a9fe::1]/", /6to4 form of 169\.254\.169\.254/],
    ["http://[64:ff9b::127.0.0.1]/", /NAT64 form of 127\.0\.0\.1/],
    ["http://[64:ff9b:1::1]/", /local-use NAT64/],
    ["http://[2001:0:4136:e378::1]/", /Teredo/],
  ])("blocks %s (%s)", (url, why) => {
    expect(reason(url)).toMatch(why);
  });

  it.each([
    "http://localhost/",
    "http://LOCALHOST./",
    "http://localhost:4100/",
    "http://anything.localhost/",
    "https://a.b.localhost./",
  ])("blocks the machine's own name %s", (url) => {
    expect(reason(url)).toMatch(/names the machine itself/);
  });

  it("blocks public IP literals, which no allowlist can name", () => {
    expect(reason("https://93.184.215.14/")).toMatch(/not an allowed host/);
    expect(reason("https://[2606:4700::1111]/")).toMatch(/not an allowed host/);
  });

  it.each([
    ["file:///etc/passwd", /file: scheme is never allowed/],
    ["view-source:http://127.0.0.1/", /view-source: scheme/],
    ["chrome://version", /chrome: scheme/],
    ["chrome-extension://abc/x.js", /chrome-extension: scheme/],
    ["ftp://ftp.example.com/x", /ftp: scheme/],
    ["javascript:alert(1)", /javascript: scheme/],
    ["filesystem:http://x.example/temporary/a", /filesystem: scheme/],
    ["ws://cdn.tenant.example/", /WebSockets/],
    ["wss://cdn.tenant.example/", /WebSockets/],
    ["about:config", /not allowed/],
    ["not a url", /not a valid URL/],
  ])("blocks %s", (url, why) => {
    expect(reason(url)).toMatch(why);
  });

  it("allows the asset origins exactly, even on loopback, and nothing next to them", () => {
    expect(verdict("http://127.0.0.1:4100/assets/a/logo.png?Signature=x")).toMatchObject({
      verdict: "network",
      trusted: true,
    });
    expect(verdict("https://d111.cloudfront.net/assets/x")).toMatchObject({
      verdict: "network",
      trusted: true,
    });
    expect(reason("http://127.0.0.1:4101/")).toMatch(/loopback/);
    expect(reason("https://127.0.0.1:4100/")).toMatch(/loopback/);
    expect(reason("http://d111.cloudfront.net/assets/x")).toMatch(/not in the tenant's egress.allowHosts/);
  });

  it("allows allowlisted hosts over https only, to be checked again once resolved", () => {
    expect(verdict("https://cdn.tenant.example/a.png")).toMatchObject({ verdict: "network", trusted: false });
    expect(verdict("https://CDN.tenant.example./a.png")).toMatchObject({
      verdict: "network",
      trusted: false,
    });
    expect(verdict("https://eu.fonts.example/f.woff2")).toMatchObject({ verdict: "network" });
    expect(reason("http://cdn.tenant.example/a.png")).toMatch(/https only/);
    expect(reason("https://fonts.example/f.woff2")).toMatch(/not in the tenant's egress.allowHosts/);
    expect(reason("https://cdn.tenant.example.evil.test/")).toMatch(/not in the tenant's/);
    expect(reason("https://evilcdn.tenant.example/")).toMatch(/not in the tenant's/);
  });

  it("allows data: under the size cap, about:blank and blob:", () => {
    expect(verdict(`data:image/png;base64,${"A".repeat(1000)}`)).toEqual({ verdict: "local" });
    expect(reason(`data:image/png;base64,${"A".repeat(1400)}`)).toMatch(/1050 bytes; at most 1000/);
    expect(reason(`data:text/plain,${"a".repeat(1001)}`)).toMatch(/1001 bytes/);
    expect(verdict("about:blank")).toEqual({ verdict: "local" });
    expect(verdict("blob:null/2f1c6b1e-0000-4000-8000-000000000000")).toEqual({ verdict: "local" });
  });
});

describe("addressProblem, for resolved addresses", () => {
  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "203.0.113.10",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:0808:0808::1",
    "64:ff9b::808:808",
    "2001:db8::1",
  ])("accepts the public address %s", (address) => {
    expect(addressProblem(address)).toBeUndefined();
  });

  it.each([
    ["127.0.0.53", /loopback/],
    ["::ffff:10.0.0.1", /IPv4-mapped form of 10\.0\.0\.1 is a private/],
    ["::ffff:a9fe:a9fe", /IPv4-mapped form of 169\.254\.169\.254/],
    ["fe80::1%eth0", /link-local/],
    ["FD00:EC2::254", /unique local/],
    ["::1", /loopback/],
    ["0:0:0:0:0:0:0:1", /loopback/],
    ["not-an-ip", /not an IP address/],
    ["1.2.3", /not an IP address/],
    ["1:2:3:4:5:6:7:8:9", /not an IP address/],
  ])("refuses %s", (address, why) => {
    expect(addressProblem(address)).toMatch(why);
  });
});

describe("helpers", () => {
  it("matches wildcards below the domain, not the domain itself or look-alikes", () => {
    expect(hostMatches("a.example.com", "*.example.com")).toBe(true);
    expect(hostMatches("a.b.example.com", "*.example.com")).toBe(true);
    expect(hostMatches("example.com", "*.example.com")).toBe(false);
    expect(hostMatches("badexample.com", "*.example.com")).toBe(false);
    expect(hostMatches("Example.COM.", "example.com")).toBe(true);
  });

  it("measures data: URLs decoded", () => {
    expect(dataUrlBytes("data:image/png;base64,AAAA")).toBe(3);
    expect(dataUrlBytes("data:image/png;base64,AA==")).toBe(1);
    expect(dataUrlBytes("data:,a%20b")).toBe(3);
  });
});
