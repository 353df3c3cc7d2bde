import type { APIGatewayProxyEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { MemoryTenantSettingsStore } from "../../functions/adapters/memory/memory-tenant-settings-store.js";
import {
  MemoryTemplateSourceStore,
  MemoryTemplateStore,
} from "../../functions/adapters/memory/template-asset-fakes.js";
import { prepareDocument } from "../../functions/core/prepare-document.js";
import { parseOrThrow } from "../../functions/core/render-request.js";
import { createTemplateVersion, TemplateLoader } from "../../functions/core/templates.js";
import { allowHostProblem, TenantSettingsSchema } from "../../functions/core/tenant-settings.js";
import { makeHandler } from "../../functions/handlers/api/handler.js";
import { apiEvent, KEY_A, KEY_B, memoryApiDeps } from "./support/api.js";

function setup() {
  const settings = new MemoryTenantSettingsStore();
  const handler = makeHandler(memoryApiDeps({ settings }));
  return { handler, settings };
}

function event(method: string, body?: unknown, key = KEY_A): APIGatewayProxyEvent {
  return apiEvent({
    httpMethod: method,
    path: "/v1/settings",
    headers: { "x-api-key": key, "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
}

const json = (r: { body: string }) => JSON.parse(r.body);

describe("allowHosts entries", () => {
  it.each(["cdn.example.com", "*.example.com", "assets.eu-west-1.example.co.uk", "xn--bcher-kva.example"])(
    "accepts %s",
    (host) => {
      expect(allowHostProblem(host)).toBeUndefined();
    },
  );

  it.each([
    ["https://cdn.example.com", /without a scheme/],
    ["cdn.example.com/fonts", /without a path/],
    ["cdn.example.com:8443", /without a port/],
    ["127.0.0.1", /not an IP address/],
    ["2130706433", /not an IP address/],
    ["0x7f.1", /not an IP address/],
    ["[::1]", /not an IP address/],
    ["::ffff:7f00:1", /not an IP address/],
    ["localhost.localdomain.localhost", /localhost/],
    ["com", /fully qualified/],
    ["*.com", /fully qualified/],
    ["cdn.*.example.com", /whole first label/],
    ["bücher.example", /ASCII/],
    ["-bad.example.com", /letters, digits/],
  ])("refuses %s", (host, message) => {
    expect(allowHostProblem(host)).toMatch(message);
  });

  it("normalises case and a trailing dot, drops duplicates, and names the bad entry by index", () => {
    expect(
      parseOrThrow(TenantSettingsSchema, { egress: { allowHosts: ["CDN.Example.com.", "cdn.example.com"] } }),
    ).toEqual({ egress: { allowHosts: ["cdn.example.com"] } });
    expect(() =>
      parseOrThrow(TenantSettingsSchema, { egress: { allowHosts: ["ok.example.com", "10.0.0.1"] } }),
    ).toThrow(/egress\.allowHosts\.1: "10\.0\.0\.1" must be a host name, not an IP address/);
    expect(() => parseOrThrow(TenantSettingsSchema, { egress: { allowHosts: [] }, extra: 1 })).toThrow(
      /extra: unknown field/,
    );
  });
});

describe("settings routes", () => {
  it("answers the defaults until settings are stored, then the stored ones, per tenant", async () => {
    const { handler } = setup();
    const empty = await handler(event("GET"));
    expect(empty.statusCode).toBe(200);
    expect(json(empty)).toEqual({ egress: { allowHosts: [] } });

    const put = await handler(
      event("PUT", { egress: { allowHosts: ["*.Tenant.example", "cdn.tenant.example"] } }),
    );
    expect(put.statusCode).toBe(200);
    expect(json(put)).toEqual({ egress: { allowHosts: ["*.tenant.example", "cdn.tenant.example"] } });
    expect(json(await handler(event("GET")))).toEqual(json(put));
    // Another tenant's settings are its own.
    expect(json(await handler(event("GET", undefined, KEY_B)))).toEqual({ egress: { allowHosts: [] } });
  });

  it("refuses a bad host with a 400 naming the field, and stores nothing", async () => {
    const { handler, settings } = setup();
    const res = await handler(event("PUT", { egress: { allowHosts: ["http://169.254.169.254/"] } }));
    expect(res.statusCode).toBe(400);
    expect(json(res).error.fields).toEqual([
      { field: "egress.allowHosts.0", message: expect.stringMatching(/without a scheme/) },
    ]);
    expect(settings.settings.size).toBe(0);
  });

  it("needs an API key and allows only GET and PUT", async () => {
    const { handler } = setup();
    expect((await handler(event("GET", undefined, "wrong"))).statusCode).toBe(401);
    expect((await handler(event("DELETE"))).statusCode).toBe(405);
  });
});

describe("what the worker renders with", () => {
  it("takes the tenant's allowlist when the job renders, and JavaScript from the job or the template version", async () => {
    const settings = new MemoryTenantSettingsStore();
    await settings.put("a", { egress: { allowHosts: ["cdn.a.example"] } }, new Date());
    const templates = { versions: new MemoryTemplateStore(), sources: new MemoryTemplateSourceStore() };
    await createTemplateVersion(
      templates,
      "a",
      { id: "scripted", html: "<p>x</p>", javascript: true },
      new Date(),
    );
    await createTemplateVersion(templates, "a", { id: "plain", html: "<p>x</p>" }, new Date());
    const deps = { settings, templates: new TemplateLoader(templates) };
    const output = { format: "png" as const, width: 10, height: 10, scale: 1 };

    const inline = await prepareDocument(deps, "a", { template: { html: "<p>x</p>" }, data: {}, output });
    expect(inline.page).toMatchObject({
      javascript: false,
      blockedRequests: "fail",
      allowHosts: ["cdn.a.example"],
    });
    const scripted = await prepareDocument(deps, "a", {
      template: { id: "scripted", version: 1 },
      data: {},
      output,
    });
    expect(scripted.page.javascript).toBe(true);
    const plain = await prepareDocument(deps, "a", {
      template: { id: "plain", version: 1 },
      data: {},
      output,
    });
    expect(plain.page.javascript).toBe(false);
    const asked = await prepareDocument(deps, "b", {
      template: { html: "<p>x</p>" },
      data: {},
      output,
      javascript: true,
      blockedRequests: "ignore",
    });
    expect(asked.page).toMatchObject({ javascript: true, blockedRequests: "ignore", allowHosts: [] });
  });

  it("stores the javascript flag with the version and treats a changed flag as a new version", async () => {
    const templates = { versions: new MemoryTemplateStore(), sources: new MemoryTemplateSourceStore() };
    const first = await createTemplateVersion(templates, "a", { id: "t", html: "<p>x</p>" }, new Date());
    const again = await createTemplateVersion(templates, "a", { id: "t", html: "<p>x</p>" }, new Date());
    const scripted = await createTemplateVersion(
      templates,
      "a",
      { id: "t", html: "<p>x</p>", javascript: true },
      new Date(),
    );
    expect([first.created, again.created, scripted.created]).toEqual([true, false, true]);
    expect(scripted.version).toMatchObject({ version: 2, javascript: true });
  });
});
