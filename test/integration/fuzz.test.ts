import { Agent, request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

/**
 * Malformed, oversize and wrongly typed requests to every route of the API, over HTTP on 127.0.0.1,
 * generated from a seeded PRNG (KILN_FUZZ_SEED to repeat a run; the seed is printed). No answer may
 * be a 5xx, and every 4xx must be `{error: {code, message}}` saying what is wrong — a 400 with
 * `fields` naming each field, and the field a mutation broke among them.
 *
 * The stack runs without workers: requests that happen to be valid queue jobs that nobody renders,
 * so Chromium is never started.
 */

const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20261121);
const MIN_REQUESTS = 1_000;
const CONCURRENCY = 8;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  return { next, int, pick };
}
const rand = prng(SEED);

interface FuzzRequest {
  /** What was sent, for the failure report. */
  readonly label: string;
  readonly method: string;
  /** Percent-encoded as needed: Node's client refuses raw non-ASCII in a path. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: Buffer;
  /** For a wrong value or an unknown field at this dotted path: a 400 must name it (or its parent or child). */
  readonly breaks?: string;
  /** Exactly this field must be named. */
  readonly names?: string;
  /** Raw bytes on a socket, for what Node's client refuses to send (NUL in a header, bad request lines). */
  readonly raw?: Buffer;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

const STORED_TEMPLATE = "fuzz-template";

/** Valid bodies of POST /v1/renders that touch every field, to break one field at a time. */
const RENDER_BASES: Record<string, Record<string, unknown>> = {
  image: {
    template: { html: "<p>{{ n }}</p>" },
    data: { n: 1, list: [1, 2], nested: { a: "b" } },
    assets: { logo: "brand/logo.png" },
    output: { format: "png", width: 16, height: 16, scale: 1, fullPage: false, transparent: true },
    waitFor: { selector: "p", timeoutMs: 1000 },
    clock: "2026-01-01T00:00:00Z",
    resourceErrors: "ignore",
    timeoutMs: 5000,
    callbackUrl: "http://127.0.0.1:9/hook",
  },
  pdf: {
    template: { html: "<p>pdf</p>" },
    output: {
      format: "pdf",
      pdf: {
        pageSize: "A4",
        landscape: true,
        margin: { top: "1cm", right: "1cm", bottom: "1cm", left: "1cm" },
        headerTemplate: "<span></span>",
        footerTemplate: "<span class='pageNumber'></span>",
        pageRanges: "1",
        printBackground: true,
        preferCssPageSize: false,
      },
    },
    waitFor: { expression: "true", timeoutMs: 100 },
    javascript: true,
    blockedRequests: "ignore",
  },
  stored: {
    template: { id: STORED_TEMPLATE, version: 1 },
    output: { format: "jpeg", quality: 80, clip: { x: 0, y: 0, width: 8, height: 8 } },
  },
};

const TEMPLATE_BASE = {
  id: "fuzz-upload",
  html: "<p>{{ n }}</p>",
  schema: { type: "object", properties: { n: { type: "number" } } },
};

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const auth = { "x-api-key": TENANT_A.apiKey };
const jsonHeaders = { ...auth, "content-type": "application/json" };

/** Every path in a JSON value: objects, arrays and leaves. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== "object" || value === null) return [prefix];
  const children = Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]));
  return prefix.length === 0 ? children : [prefix, ...children];
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], root);
}

function withValue(root: unknown, path: readonly string[], value: unknown): unknown {
  const copy = structuredClone(root) as Record<string, unknown>;
  const parent = valueAt(copy, path.slice(0, -1)) as Record<string, unknown>;
  parent[path.at(-1) as string] = value;
  return copy;
}

function without(root: unknown, path: readonly string[]): unknown {
  const copy = structuredClone(root) as Record<string, unknown>;
  const parent = valueAt(copy, path.slice(0, -1)) as Record<string, unknown>;
  delete parent[path.at(-1) as string];
  return copy;
}

/** Values of the wrong type for what is at a path, none of which any Kiln field accepts in its place. */
function wrongValuesFor(current: unknown): unknown[] {
  if (typeof current === "string") return [null, 12345.5, true, [], {}, ["x"]];
  if (typeof current === "number") return [null, "12", true, [], {}, -1e308];
  if (typeof current === "boolean") return [null, "true", 1, [], {}];
  if (Array.isArray(current)) return [null, "x", 1, {}];
  return [null, "x", 1, true, []];
}

const HOSTILE_SEGMENTS = [
  "%00",
  "%00%00abc",
  "%E2%80%AE",
  "%F0%9F%92%A9",
  "%C3%28",
  "%ZZ",
  "%",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e",
  "x".repeat(5000),
  encodeURIComponent("ä€😀\u0000\u202e"),
  "00000000-0000-4000-8000-00000000000g",
  "-1",
  "0",
  "1e3",
  "9999999999999",
  "%20",
  "'%3B--",
];

const WRONG_TYPES = [null, 0, -1, 1.5, "", "x", true, [], {}, 1e308, "x".repeat(300)];

function randomJson(depth = 0): unknown {
  const kind = rand.int(depth > 3 ? 5 : 7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rand.next() < 0.5;
    case 2:
      return rand.pick([0, -1, 1.5, 1e308, -1e-308, 2 ** 53 + 1, 4096, 4097]);
    case 3:
      return rand.pick([
        "",
        "x",
        "\u0000",
        "😀".repeat(rand.int(50)),
        "<script>",
        "a".repeat(rand.int(3000)),
      ]);
    case 4:
      return rand.pick(["png", "pdf", "jpeg", "webp", "gif", "PNG"]);
    case 5:
      return Array.from({ length: rand.int(4) }, () => randomJson(depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rand.int(5) }, () => [
          rand.pick([
            "template",
            "data",
            "output",
            "html",
            "id",
            "format",
            "__proto__",
            "constructor",
            "💥",
            "",
          ]),
          randomJson(depth + 1),
        ]),
      );
  }
}

function nestedJson(depth: number, open: string, close: string): Buffer {
  return Buffer.from(
    `{"template":{"html":"x"},"output":{"format":"png"},"data":{"deep":${open.repeat(depth)}${close.repeat(depth)}}}`,
  );
}

/** The routes as a client can call them; new ones in handler.ts belong here too. */
const ROUTES = [
  { method: "POST", path: () => "/v1/renders", json: true },
  { method: "GET", path: () => `/v1/renders/${rand.pick(HOSTILE_SEGMENTS)}` },
  { method: "GET", path: () => "/v1/webhooks/secret" },
  { method: "POST", path: () => "/v1/webhooks/secret/rotate" },
  { method: "POST", path: () => "/v1/templates", json: true },
  { method: "GET", path: () => "/v1/templates" },
  { method: "GET", path: () => `/v1/templates/${rand.pick(HOSTILE_SEGMENTS)}` },
  {
    method: "GET",
    path: () =>
      `/v1/templates/${rand.pick([STORED_TEMPLATE, ...HOSTILE_SEGMENTS])}/versions/${rand.pick(HOSTILE_SEGMENTS)}`,
  },
  { method: "PUT", path: () => `/v1/assets/${rand.pick(["logo.png", ...HOSTILE_SEGMENTS])}` },
  { method: "GET", path: () => "/v1/settings" },
  { method: "PUT", path: () => "/v1/settings", json: true },
  { method: "GET", path: () => "/openapi.json" },
  { method: "POST", path: () => "/v1/batches", json: true },
  { method: "GET", path: () => `/v1/batches/${rand.pick(HOSTILE_SEGMENTS)}` },
  { method: "GET", path: () => `/v1/batches/${rand.pick(HOSTILE_SEGMENTS)}/outputs` },
] as const;

function generate(): FuzzRequest[] {
  const requests: FuzzRequest[] = [];
  const add = (r: FuzzRequest) => requests.push(r);

  // Wrong types, missing fields, unknown fields and huge strings at every field of valid renders.
  for (const [name, base] of Object.entries(RENDER_BASES)) {
    for (const path of pathsOf(base)) {
      const dotted = path.join(".");
      const free = path[0] === "data" && path.length > 1;
      for (const wrong of wrongValuesFor(valueAt(base, path))) {
        add({
          label: `render ${name}: ${dotted} = ${JSON.stringify(wrong)}`,
          method: "POST",
          path: "/v1/renders",
          headers: jsonHeaders,
          body: json(withValue(base, path, wrong)),
          ...(free ? {} : { breaks: dotted }),
        });
      }
      add({
        label: `render ${name}: without ${dotted}`,
        method: "POST",
        path: "/v1/renders",
        headers: jsonHeaders,
        body: json(without(base, path)),
      });
      const current = valueAt(base, path);
      if (typeof current === "object" && current !== null && !Array.isArray(current) && path[0] !== "data") {
        add({
          label: `render ${name}: unknown field in ${dotted}`,
          method: "POST",
          path: "/v1/renders",
          headers: jsonHeaders,
          body: json(withValue(base, [...path, "zzUnknown"], true)),
          names: `${dotted}.zzUnknown`,
        });
      }
      if (typeof current === "string" && !free && rand.next() < 0.4) {
        add({
          label: `render ${name}: ${dotted} = 1.1 MiB string`,
          method: "POST",
          path: "/v1/renders",
          headers: jsonHeaders,
          body: json(withValue(base, path, "é".repeat(600 * 1024))),
          breaks: dotted,
        });
      }
    }
    add({
      label: `render ${name}: unknown top-level field`,
      method: "POST",
      path: "/v1/renders",
      headers: jsonHeaders,
      body: json({ ...base, zzUnknown: 1 }),
      names: "zzUnknown",
    });
  }

  // The same for template uploads.
  for (const path of pathsOf(TEMPLATE_BASE)) {
    const dotted = path.join(".");
    // A schema's inner values may legitimately be anything JSON Schema allows.
    const breaks = path[0] === "schema" && path.length > 1 ? {} : { breaks: dotted };
    for (const wrong of wrongValuesFor(valueAt(TEMPLATE_BASE, path))) {
      add({
        label: `template: ${dotted} = ${JSON.stringify(wrong)}`,
        method: "POST",
        path: "/v1/templates",
        headers: jsonHeaders,
        body: json(withValue(TEMPLATE_BASE, path, wrong)),
        ...breaks,
      });
    }
  }

  // Idempotency-Key values that are not 1–255 printable ASCII characters.
  for (const key of ["", " ", "\t", "x".repeat(256), Buffer.from("naïve€").toString("latin1"), "a\u00ff"]) {
    add({
      label: `Idempotency-Key ${JSON.stringify(key).slice(0, 40)}`,
      method: "POST",
      path: "/v1/renders",
      headers: { ...jsonHeaders, "idempotency-key": key },
      body: json(RENDER_BASES.pdf),
      names: "Idempotency-Key",
    });
  }

  // Deep nesting, in data and as the whole body.
  for (const depth of [33, 100, 10_000, 200_000]) {
    add({
      label: `data nested ${depth} arrays`,
      method: "POST",
      path: "/v1/renders",
      headers: jsonHeaders,
      body: nestedJson(depth, "[", "]"),
    });
    add({
      label: `data nested ${depth} objects`,
      method: "POST",
      path: "/v1/renders",
      headers: jsonHeaders,
      body: nestedJson(depth, '{"a":', "}"),
    });
    for (const path of ["/v1/templates", "/v1/settings", "/v1/batches"]) {
      add({
        label: `${path}: body nested ${depth}`,
        method: path === "/v1/settings" ? "PUT" : "POST",
        path,
        headers: jsonHeaders,
        body: Buffer.from("[".repeat(depth) + "]".repeat(depth)),
      });
    }
  }

  // Oversize bodies on every route that takes one.
  for (const [method, path] of [
    ["POST", "/v1/renders"],
    ["POST", "/v1/templates"],
    ["POST", "/v1/batches"],
    ["PUT", "/v1/settings"],
    ["PUT", "/v1/assets/big.png"],
  ] as const) {
    add({
      label: `${method} ${path}: 4.5 MiB body`,
      method,
      path,
      headers: { ...auth, "content-type": path.startsWith("/v1/assets") ? "image/png" : "application/json" },
      body: Buffer.from(`{"data":"${"z".repeat(4.5 * 1024 * 1024)}"}`),
    });
  }

  // Missing, wrong and odd API keys on every route.
  for (const route of ROUTES) {
    for (const key of [undefined, "", "wrong-key-0000", "x".repeat(10_000), ["a", TENANT_A.apiKey]]) {
      add({
        label: `${route.method} api key ${JSON.stringify(key)?.slice(0, 30)}`,
        method: route.method,
        path: route.path(),
        headers: key === undefined ? {} : { "x-api-key": key },
        ...(route.method === "GET" ? {} : { body: json(RENDER_BASES.image) }),
      });
    }
  }

  // Wrong methods on every route, and unknown routes.
  for (const route of ROUTES) {
    for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]) {
      if (method === route.method) continue;
      add({ label: `${method} on ${route.method} route`, method, path: route.path(), headers: jsonHeaders });
    }
  }
  for (const path of [
    "/",
    "/v1",
    "/v2/renders",
    "/v1/renders/a/b",
    "/v1/assets",
    "/v1/assets/",
    "/%00",
    "/openapi.json/x",
  ]) {
    add({ label: `unknown route ${path}`, method: "GET", path, headers: auth });
  }

  // Bad, missing and duplicated content types on the JSON routes.
  const contentTypes: Array<string | string[] | undefined> = [
    undefined,
    "text/plain",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "",
    ";;;",
    "application/json; charset=latin1",
    ["application/json", "text/plain"],
    ["text/plain", "application/json"],
  ];
  for (const route of ROUTES.filter((r) => "json" in r)) {
    for (const type of contentTypes) {
      add({
        label: `${route.method} ${route.path()} content-type ${JSON.stringify(type)}`,
        method: route.method,
        path: route.path(),
        headers: { ...auth, ...(type === undefined ? {} : { "content-type": type }) },
        body: json(route.path() === "/v1/templates" ? TEMPLATE_BASE : RENDER_BASES.pdf),
      });
    }
  }
  for (const type of [
    undefined,
    "text/html",
    "application/json",
    "image/png; x=y",
    "IMAGE/PNG",
    ["image/png", "text/css"],
  ]) {
    add({
      label: `PUT asset content-type ${JSON.stringify(type)}`,
      method: "PUT",
      path: `/v1/assets/${rand.pick(["a.png", "b", "c.exe", "d.css"])}`,
      headers: { ...auth, ...(type === undefined ? {} : { "content-type": type }) },
      body: Buffer.from(rand.pick(["", "x", "\u0000\u0001", "<svg/>"])),
    });
  }

  // Invalid JSON: truncated valid bodies, stray bytes, empty bodies.
  const valid = JSON.stringify(RENDER_BASES.image);
  for (let i = 0; i < 60; i++) {
    const route = rand.pick(ROUTES.filter((r) => "json" in r));
    const body = rand.pick([
      () => valid.slice(0, rand.int(valid.length)),
      () => valid.replace(/[:,]/, rand.pick(["", ";", "::"])),
      () => Buffer.from(Array.from({ length: rand.int(200) }, () => rand.int(256))).toString("latin1"),
      () => "",
      () => "   ",
      () => "null",
      () => "[]",
      () => '"string"',
      () => "1e999",
      () => '{"a":1,"a":2}',
      () => "\ufeff{}",
    ])();
    add({
      label: `${route.method} ${route.path()} invalid JSON ${JSON.stringify(body.slice(0, 30))}`,
      method: route.method,
      path: route.path(),
      headers: jsonHeaders,
      body: Buffer.from(body, "latin1"),
    });
  }

  // Random JSON of random shapes to every JSON route, and wrong types for whole bodies.
  for (let i = 0; i < 250; i++) {
    const route = rand.pick(ROUTES.filter((r) => "json" in r));
    const value = rand.next() < 0.3 ? rand.pick(WRONG_TYPES) : randomJson();
    add({
      label: `${route.method} ${route.path()} random ${JSON.stringify(value)?.slice(0, 60)}`,
      method: route.method,
      path: route.path(),
      headers: jsonHeaders,
      body: json(value),
    });
  }

  // Unicode in headers (sent as UTF-8 bytes), hostile path parameters on every parameterised route.
  for (let i = 0; i < 100; i++) {
    const route = rand.pick(ROUTES);
    const odd = Buffer.from(rand.pick(["ä€😀", "\u202eevil", "x".repeat(4000), "é"])).toString("latin1");
    add({
      label: `${route.method} odd header values`,
      method: route.method,
      path: route.path(),
      headers: {
        ...jsonHeaders,
        [rand.pick(["x-correlation-id", "idempotency-key", "x-api-key", "user-agent", "accept"])]: odd,
      },
      ...(route.method === "GET" ? {} : { body: json(RENDER_BASES.pdf) }),
    });
  }

  // What Node's client will not send: raw bytes on a socket.
  const rawRequests = [
    `GET /v1/renders/\u0000 HTTP/1.1\r\nhost: x\r\nx-api-key: ${TENANT_A.apiKey}\r\n\r\n`,
    `GET /v1/webhooks/secret HTTP/1.1\r\nhost: x\r\nx-api-key: a\u0000b\r\n\r\n`,
    `GET /v1/templates/ä€ HTTP/1.1\r\nhost: x\r\nx-api-key: ${TENANT_A.apiKey}\r\n\r\n`,
    `POST /v1/renders HTTP/1.1\r\nhost: x\r\nx-api-key: ${TENANT_A.apiKey}\r\ncontent-type: application/json\u0000\r\ncontent-length: 2\r\n\r\n{}`,
    `FOO /v1/renders HTTP/1.1\r\nhost: x\r\n\r\n`,
    `GET /v1/renders HTTP/9.9\r\nhost: x\r\n\r\n`,
    `GET  HTTP/1.1\r\nhost: x\r\n\r\n`,
    `GET /v1/webhooks/secret HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n`,
    `GET /v1/webhooks/secret HTTP/1.1\r\nhost: x\r\nx-big: ${"y".repeat(20_000)}\r\n\r\n`,
    `POST /v1/renders HTTP/1.1\r\nhost: x\r\nx-api-key: ${TENANT_A.apiKey}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n`,
    `POST /v1/renders HTTP/1.1\r\nhost: x\r\nx-api-key: ${TENANT_A.apiKey}\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\n{}`,
  ];
  for (const raw of rawRequests) {
    add({
      label: `raw ${JSON.stringify(raw.slice(0, 60))}`,
      method: "RAW",
      path: "",
      headers: {},
      raw: Buffer.from(raw.replace(/\r\n\r\n/, "\r\nconnection: close\r\n\r\n"), "utf8"),
    });
  }
  return requests;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(apiUrl: URL, r: FuzzRequest): Promise<Answer> {
  if (r.raw) return sendRaw(apiUrl, r.raw);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: apiUrl.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, ...(r.body ? { "content-length": r.body.length } : {}) },
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(r.body);
  });
}

function sendRaw(apiUrl: URL, bytes: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: Number(apiUrl.port) });
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const [head = "", ...rest] = text.split("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: {}, body: rest.join("\r\n\r\n") });
    });
    socket.end(bytes);
  });
}

/** What is wrong with an answer, or undefined. */
function problemWith(r: FuzzRequest, a: Answer): string | undefined {
  if (a.status === 0) return "no HTTP answer";
  if (a.status >= 500) return `answered ${a.status}: ${a.body.slice(0, 200)}`;
  if (a.status < 400) {
    if (r.breaks || r.names) return `answered ${a.status} to a request with a broken field`;
    return undefined;
  }
  // HEAD answers carry no body.
  if (r.method === "HEAD") return undefined;
  let body: { error?: { code?: unknown; message?: unknown; fields?: unknown } };
  try {
    body = JSON.parse(a.body);
  } catch {
    return `a ${a.status} body that is not JSON: ${a.body.slice(0, 100)}`;
  }
  const error = body?.error;
  if (typeof error?.code !== "string" || !/^[a-z][a-z_]*$/.test(error.code))
    return `no error.code in ${a.body}`;
  if (typeof error.message !== "string" || error.message.trim().length < 10) return `no message in ${a.body}`;
  if (/at \w+ \(|node_modules|\/work\/|TypeError|ReferenceError/.test(a.body))
    return `internals in ${a.body}`;
  if (a.status === 400) {
    const fields = error.fields as Array<{ field?: unknown; message?: unknown }> | undefined;
    if (!Array.isArray(fields) || fields.length === 0) return `a 400 without fields: ${a.body.slice(0, 200)}`;
    if (
      !fields.every(
        (f) => typeof f.field === "string" && typeof f.message === "string" && f.message.length > 0,
      )
    ) {
      return `a 400 with fields that do not name a field and a problem: ${a.body.slice(0, 200)}`;
    }
    const named = fields.map((f) => f.field as string);
    if (r.names && !named.includes(r.names)) return `the 400 does not name ${r.names}: ${named.join(", ")}`;
    const broken = r.breaks;
    if (
      broken &&
      !named.some((f) => f === broken || broken.startsWith(`${f}.`) || f.startsWith(`${broken}.`))
    ) {
      return `the 400 does not name ${broken}: ${named.join(", ")}`;
    }
  } else if (r.breaks || r.names) {
    // A body over the size limit answers 413 before any field is looked at.
    if (a.status !== 413) return `answered ${a.status}, not 400 naming ${r.breaks ?? r.names}`;
  }
  if (a.status === 429 && !a.headers["retry-after"]) return "a 429 without Retry-After";
  return undefined;
}

let t: TestStack;
beforeAll(async () => {
  // No pollers: valid requests queue jobs that are never rendered.
  t = await startTestStack({ workerConcurrency: 0 });
  await t.clientA.createTemplate({ id: STORED_TEMPLATE, html: "<p>{{ n }}</p>" });
});
afterAll(async () => {
  agent.destroy();
  await t?.stop();
});

describe("fuzzing the API", () => {
  it(`answers ${MIN_REQUESTS}+ malformed requests on every route without a 5xx, each 4xx naming the problem`, async () => {
    process.stdout.write(`fuzz seed ${SEED} (set KILN_FUZZ_SEED=${SEED} to repeat this run)\n`);
    const requests = generate();
    expect(requests.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
    const apiUrl = new URL(t.stack.apiUrl);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < requests.length; i = next++) {
        const r = requests[i] as FuzzRequest;
        const answer = await send(apiUrl, r).catch(
          (e: Error): Answer => ({ status: 0, headers: {}, body: e.message }),
        );
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const problem = problemWith(r, answer);
        if (problem) failures.push(`${r.label}: ${problem}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    process.stdout.write(
      `fuzz: ${requests.length} requests; statuses ${[...statuses]
        .sort()
        .map(([s, n]) => `${s}×${n}`)
        .join(" ")}\n`,
    );
    expect(failures).toEqual([]);
    // The generator reached the API's answers, not only the gateway's.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(300);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(20);
  }, 120_000);

  it("answers a body over API Gateway's 10 MiB limit with 413 in Kiln's error shape, before the api handler", async () => {
    const apiUrl = new URL(t.stack.apiUrl);
    const filler = "z".repeat(11 * 1024 * 1024);
    const render = (path: string, method: string) =>
      send(apiUrl, {
        label: `${method} ${path}: 11 MiB body`,
        method,
        path,
        headers: { "content-type": "application/json", "x-api-key": TENANT_A.apiKey },
        body: Buffer.from(
          `{"template":{"html":"x"},"data":{"filler":"${filler}"},"output":{"format":"png"}}`,
        ),
      });
    for (const [method, path] of [
      ["POST", "/v1/renders"],
      ["PUT", "/v1/assets/huge.png"],
    ] as const) {
      const answer = await render(path, method);
      expect(answer.status, `${method} ${path}`).toBe(413);
      expect(JSON.parse(answer.body)).toEqual({
        error: {
          code: "payload_too_large",
          message: expect.stringContaining("at most 10485760 bytes (10 MiB)"),
        },
      });
    }
    // The gateway read past the oversize bodies and still serves requests.
    const after = await send(apiUrl, {
      label: "GET /v1/renders/unknown after the 413s",
      method: "GET",
      path: "/v1/renders/unknown",
      headers: { "x-api-key": TENANT_A.apiKey },
    });
    expect(after.status).toBe(404);
  }, 60_000);
});
