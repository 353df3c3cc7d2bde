import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobView } from "../../functions/client/kiln-client.js";
import { RENDERER } from "../../functions/core/renderer-identity.js";
import { startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";

const invoice = JSON.parse(
  readFileSync(new URL("../../examples/invoice/job.pdf.json", import.meta.url), "utf8"),
) as { template: { html: string }; data: Record<string, unknown>; output: Record<string, unknown> };

/** The invoice with a logo from the tenant's assets. */
const invoiceWithLogo = {
  ...invoice,
  template: {
    html: invoice.template.html.replace("<body>", '<body><img alt="" src="{{ \'logo\' | asset_url }}">'),
  },
  assets: { logo: "brand/logo.svg" },
};
const logo = (fill: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="${fill}"/></svg>`;

let t: TestStack;
const rendered: string[] = [];

beforeAll(async () => {
  t = await startTestStack({
    // An output made within the CDN's cache time of an asset upload is kept out of the cache: the
    // stack's clock runs ten minutes ahead, so that uploads made by this test are past that time.
    clock: { now: () => new Date(Date.now() + 10 * 60_000) },
    faults: { afterRender: (html) => void rendered.push(html) },
  });
});

afterAll(async () => {
  await t?.stop();
});

function post(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${t.stack.apiUrl}/v1/renders`, {
    method: "POST",
    headers: { "x-api-key": TENANT_A.apiKey, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** Submits and waits for the job to end; the POST's own answer. */
async function renderNow(body: unknown): Promise<JobView> {
  const res = await post(body, { prefer: "wait=30" });
  expect(res.status).toBe(200);
  return (await res.json()) as JobView;
}

function putLogo(fill: string) {
  return fetch(`${t.stack.apiUrl}/v1/assets/brand/logo.svg`, {
    method: "PUT",
    headers: { "x-api-key": TENANT_A.apiKey, "content-type": "image/svg+xml" },
    body: logo(fill),
  });
}

describe("the render cache (local stack, real Chromium)", () => {
  it("answers the invoice submitted twice with the first output, succeeded in the POST's own answer", async () => {
    const first = await renderNow(invoice);
    expect(first).toMatchObject({ status: "succeeded", cache: "miss" });
    expect(first.provenance?.renderer).toEqual(RENDERER);
    const renders = rendered.length;

    const res = await post(invoice);
    expect(res.status).toBe(200);
    const second = (await res.json()) as JobView;
    expect(second).toMatchObject({
      status: "succeeded",
      cache: "hit",
      cachedFrom: first.id,
      attempts: 0,
      output: { sha256: first.output?.sha256, bytes: first.output?.bytes },
      provenance: first.provenance,
    });
    expect(second.id).not.toBe(first.id);
    expect(rendered.length).toBe(renders);
    // The shared output is there to download.
    const pdf = await fetch(second.output?.url ?? "");
    expect(pdf.status).toBe(200);
    expect((await pdf.arrayBuffer()).byteLength).toBe(first.output?.bytes);

    const view = await t.clientA.getRender(second.id);
    expect(view).toMatchObject({ cache: "hit", cachedFrom: first.id, provenance: first.provenance });
  });

  it("renders anew when one character of the data changes, or the job says cache: false", async () => {
    const before = await renderNow(invoice);
    const renders = rendered.length;
    const changed = { ...invoice, data: { ...invoice.data, currency: "$" } };
    const res = await post(changed);
    expect(res.status).toBe(202);
    const again = await t.clientA.waitFor(((await res.json()) as JobView).id);
    expect(again).toMatchObject({ status: "succeeded", cache: "miss" });
    expect(again.output?.sha256).not.toBe(before.output?.sha256);
    expect(again.provenance?.inputs.data).not.toBe(before.provenance?.inputs.data);
    expect(again.provenance?.inputs.template).toBe(before.provenance?.inputs.template);
    expect(rendered.length).toBe(renders + 1);

    const optedOut = await renderNow({ ...invoice, cache: false });
    expect(optedOut).toMatchObject({ status: "succeeded", cache: "bypass" });
    expect(optedOut.cacheBypassReason).toMatch(/cache: false/);
    expect(optedOut.output?.sha256).toBe(before.output?.sha256);
    expect(rendered.length).toBe(renders + 2);
  });

  it("renders anew after an asset is uploaded again under its key", async () => {
    expect((await putLogo("#3b5bdb")).status).toBe(201);
    const first = await renderNow(invoiceWithLogo);
    expect(first).toMatchObject({ status: "succeeded", cache: "miss" });
    const hit = await renderNow(invoiceWithLogo);
    expect(hit).toMatchObject({ cache: "hit", cachedFrom: first.id });
    const renders = rendered.length;

    expect((await putLogo("#c92a2a")).status).toBe(201);
    const res = await post(invoiceWithLogo);
    expect(res.status).toBe(202);
    const anew = await t.clientA.waitFor(((await res.json()) as JobView).id);
    expect(anew).toMatchObject({ status: "succeeded", cache: "miss" });
    expect(anew.provenance?.inputs.assets.logo).not.toBe(first.provenance?.inputs.assets.logo);
    expect(anew.output?.sha256).not.toBe(first.output?.sha256);
    expect(rendered.length).toBe(renders + 1);
  });

  it("serves no other tenant from a tenant's outputs", async () => {
    await renderNow(invoice);
    const res = await fetch(`${t.stack.apiUrl}/v1/renders`, {
      method: "POST",
      headers: { "x-api-key": TENANT_B.apiKey, "content-type": "application/json" },
      body: JSON.stringify(invoice),
    });
    expect(res.status).toBe(202);
    expect(((await res.json()) as JobView).status).toBe("queued");
  });
});
