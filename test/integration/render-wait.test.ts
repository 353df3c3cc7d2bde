import { createHash } from "node:crypto";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobView } from "../../functions/client/kiln-client.js";
import { gate, startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";

/** A small page; its marker lets the render hook hold this one job. */
const job = (marker: string, html = `<p data-marker="${marker}">{{ text }}</p>`) => ({
  template: { html: `<!doctype html><body style="margin:0">${html}</body>` },
  data: { text: marker },
  output: { format: "png", width: 240, height: 120 },
});

const held = gate();
const heldStarted = gate();
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({
    faults: {
      beforeRender: async (html) => {
        if (html.includes('data-marker="held"')) {
          heldStarted.open();
          await held.opened;
        }
        return undefined;
      },
    },
  });
});

afterAll(async () => {
  held.open();
  await t?.stop();
});

/** A raw request, so the test sees statuses, headers and redirects as a client like curl does. */
function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  return fetch(`${t.stack.apiUrl}${path}`, {
    method,
    redirect: "manual",
    headers: {
      "x-api-key": TENANT_A.apiKey,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("one request renders (local stack, real Chromium)", () => {
  it("POST with Prefer: wait answers 200 with the succeeded job and its output's sha256", async () => {
    const res = await call("POST", "/v1/renders", { prefer: "wait=20" }, job("waited"));
    expect(res.status).toBe(200);
    expect(res.headers.get("preference-applied")).toBe("wait=20");
    const view = (await res.json()) as JobView;
    expect(view.status).toBe("succeeded");
    expect(res.headers.get("location")).toBe(`/v1/renders/${view.id}`);
    const output = await (await fetch(view.output?.url ?? "")).arrayBuffer();
    expect(sha256(new Uint8Array(output))).toBe(view.output?.sha256);
  });

  it("with Accept: image/png answers 303 to the output, and following it yields the PNG of the job's sha256", async () => {
    const res = await call(
      "POST",
      "/v1/renders",
      { prefer: "wait=20", accept: "image/png", "idempotency-key": "png-please" },
      job("redirected"),
    );
    expect(res.status).toBe(303);
    const location = res.headers.get("location") ?? "";
    expect(location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/outputs\/acme\/[0-9a-f]{64}\.png\?.*Signature=/);
    const image = await fetch(location);
    expect(image.headers.get("content-type")).toBe("image/png");
    const bytes = new Uint8Array(await image.arrayBuffer());
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([240, 120]);

    // The same job as JSON (an idempotent replay) names the sha256 of what the redirect served.
    const replay = await call(
      "POST",
      "/v1/renders",
      { "idempotency-key": "png-please", accept: "application/json" },
      job("redirected"),
    );
    expect(replay.status).toBe(200);
    const view = (await replay.json()) as JobView;
    expect(view.output?.sha256).toBe(sha256(bytes));

    // A client that follows redirects (curl -L) gets the image from the one request.
    const followed = await fetch(`${t.stack.apiUrl}/v1/renders`, {
      method: "POST",
      headers: {
        "x-api-key": TENANT_A.apiKey,
        "content-type": "application/json",
        prefer: "wait=20",
        accept: "image/png",
      },
      body: JSON.stringify(job("redirected")),
    });
    expect(followed.status).toBe(200);
    expect(sha256(new Uint8Array(await followed.arrayBuffer()))).toBe(view.output?.sha256);
  });

  it("answers 202 when the wait ends before the job, and a GET ?wait then returns once the job has ended", async () => {
    const res = await call("POST", "/v1/renders", { prefer: "wait=1", accept: "image/png" }, job("held"));
    expect(res.status).toBe(202);
    expect(res.headers.get("preference-applied")).toBe("wait=1");
    const { id, status } = (await res.json()) as JobView;
    expect(["queued", "rendering"]).toContain(status);
    expect(res.headers.get("location")).toBe(`/v1/renders/${id}`);

    await heldStarted.opened;
    // A wait that ends first answers the job as it is.
    const stillRendering = await call("GET", `/v1/renders/${id}?wait=1`, {});
    expect(stillRendering.status).toBe(200);
    expect(stillRendering.headers.get("preference-applied")).toBe("wait=1");
    expect(((await stillRendering.json()) as JobView).status).toBe("rendering");

    const waiting = call("GET", `/v1/renders/${id}?wait=20`, {});
    held.open();
    const done = await waiting;
    expect(done.status).toBe(200);
    expect(((await done.json()) as JobView).status).toBe("succeeded");
  });

  it("answers a failed job under Accept: image/png with 422 and the job's failure, not a body to save as the image", async () => {
    const res = await call(
      "POST",
      "/v1/renders",
      { prefer: "wait=20", accept: "image/png" },
      // Valid at submit, failing at render: the element to capture is not on the page.
      { ...job("broken"), output: { format: "png", width: 240, height: 120, selector: "#absent" } },
    );
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toContain("application/json");
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("selector_not_found");
    const view = await call("GET", res.headers.get("location") ?? "", {});
    expect(await view.json()).toMatchObject({ status: "failed", error: { code: "selector_not_found" } });
  });

  it("refuses an Accept of another image type with 406 naming both, and a bad wait with 400 naming it", async () => {
    const wrongType = await call("POST", "/v1/renders", { accept: "image/webp" }, job("webp?"));
    expect(wrongType.status).toBe(406);
    const { error } = (await wrongType.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("not_acceptable");
    expect(error.message).toMatch(/image\/webp.*image\/png/);

    const badWait = await call("POST", "/v1/renders", { prefer: "wait=-3" }, job("bad wait"));
    expect(badWait.status).toBe(400);
    expect(((await badWait.json()) as { error: { fields: unknown } }).error.fields).toEqual([
      { field: "Prefer", message: expect.stringContaining("whole number") },
    ]);
  });
});
