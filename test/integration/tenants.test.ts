import { DynamoDBClient, paginateScan } from "@aws-sdk/client-dynamodb";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type JobView,
  KilnApiError,
  KilnClient,
  type RenderSubmissionInput,
} from "../../functions/client/kiln-client.js";
import { hashApiKey } from "../../functions/core/api-keys.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";

/**
 * Tenant isolation on the local stack with real Chromium: tenant B can neither read, list, re-render
 * nor reach tenant A's jobs, templates, assets, outputs or webhook secret, and everything of A's that B
 * asks for answers exactly like something that does not exist.
 */

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ workerConcurrency: 1, renderConcurrency: 1 });
});
afterAll(async () => {
  await t?.stop();
});

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * One attempt through the client's raw request, so that the answer is seen as it came (no retries);
 * a refusal is compared by its status and body.
 */
async function call(apiKey: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const client = new KilnClient({ baseUrl: t.stack.apiUrl, apiKey, retry: { attempts: 1 } });
  try {
    const res = await client.request(method, path, body === undefined ? {} : { json: body });
    return { status: res.status, body: res.body };
  } catch (err) {
    if (!(err instanceof KilnApiError)) throw err;
    return { status: err.status, body: err.body };
  }
}

/** An answer with `name` replaced by a placeholder, to compare an answer about A's thing with one about nothing. */
function shape(answer: Answer, name: string): Answer {
  return { status: answer.status, body: JSON.parse(JSON.stringify(answer.body).replaceAll(name, "<name>")) };
}

const svg = (fill: string) =>
  Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20" height="20" fill="${fill}"/></svg>`,
  );

async function rendered(apiKey: string, job: unknown): Promise<JobView> {
  const client = apiKey === TENANT_A.apiKey ? t.clientA : t.clientB;
  const { id } = await client.submitRender(job as RenderSubmissionInput);
  return client.waitFor(id, { timeoutMs: 60_000 });
}

const SMALL_JOB: RenderSubmissionInput = {
  template: { html: '<p style="margin:0;background:#123456;height:40px">same bytes</p>' },
  output: { format: "png", width: 40, height: 40 },
};

describe("jobs and outputs", () => {
  let jobA: JobView;
  beforeAll(async () => {
    jobA = await rendered(TENANT_A.apiKey, SMALL_JOB);
  });

  it("answers B's request for A's job exactly like a job that does not exist", async () => {
    expect(jobA.status).toBe("succeeded");
    const foreign = await call(TENANT_B.apiKey, "GET", `/v1/renders/${jobA.id}`);
    const missingId = "00000000-0000-4000-8000-000000000000";
    const missing = await call(TENANT_B.apiKey, "GET", `/v1/renders/${missingId}`);
    expect(foreign.status).toBe(404);
    expect(shape(foreign, jobA.id)).toEqual(shape(missing, missingId));
    // No URL, no status, no hint of A's output in B's answer.
    expect(JSON.stringify(foreign.body)).not.toContain("outputs/");
    // A still sees its job and its output.
    const mine = await call(TENANT_A.apiKey, "GET", `/v1/renders/${jobA.id}`);
    expect(mine.status).toBe(200);
    expect((mine.body as JobView).output?.sha256).toBe(jobA.output?.sha256);
  });

  it("keeps each tenant's output under its own key, and a URL signed for B's cannot be turned into A's", async () => {
    const jobB = await rendered(TENANT_B.apiKey, SMALL_JOB);
    expect(jobB.status).toBe("succeeded");
    // The same bytes, but two objects.
    expect(jobB.output?.sha256).toBe(jobA.output?.sha256);
    const urlA = new URL(jobA.output?.url ?? "");
    const urlB = new URL(jobB.output?.url ?? "");
    expect(urlA.pathname).toContain(`/outputs/${TENANT_A.tenant}/`);
    expect(urlB.pathname).toContain(`/outputs/${TENANT_B.tenant}/`);

    // B's signature on A's path: the signature covers the exact object, so the edge refuses it.
    const forged = new URL(urlB);
    forged.pathname = urlA.pathname;
    expect((await fetch(forged)).status).toBe(403);
    // No signature at all: refused too.
    expect((await fetch(new URL(urlA.pathname, urlA))).status).toBe(403);
    // Each tenant's own URL works.
    expect((await fetch(urlA)).status).toBe(200);
    expect((await fetch(urlB)).status).toBe(200);
  });

  it("does not let B replay A's Idempotency-Key into A's job", async () => {
    const key = "order-4711";
    const a = await t.clientA.submitRender(SMALL_JOB, { idempotencyKey: key });
    const b = await t.clientB.submitRender(SMALL_JOB, { idempotencyKey: key });
    expect(b.id).not.toBe(a.id);
    expect(b.replayed).toBe(false);
    expect((await call(TENANT_B.apiKey, "GET", `/v1/renders/${a.id}`)).status).toBe(404);
  });
});

describe("templates", () => {
  const id = "tenant-invoice";
  beforeAll(async () => {
    await t.clientA.createTemplate({ id, html: "<p>A one {{ n }}</p>" });
    await t.clientA.createTemplate({ id, html: "<p>A two {{ n }}</p>", schema: { type: "object" } });
  });

  it("answers B's requests for A's template, versions and listing exactly like a template that does not exist", async () => {
    const absent = "no-such-template";
    for (const [path, absentPath] of [
      [`/v1/templates/${id}`, `/v1/templates/${absent}`],
      [`/v1/templates/${id}/versions/1`, `/v1/templates/${absent}/versions/1`],
      [`/v1/templates/${id}/versions/2`, `/v1/templates/${absent}/versions/2`],
    ] as const) {
      const foreign = await call(TENANT_B.apiKey, "GET", path);
      const missing = await call(TENANT_B.apiKey, "GET", absentPath);
      expect(foreign.status, path).toBe(404);
      expect(shape(foreign, id), path).toEqual(shape(missing, absent));
      expect(JSON.stringify(foreign.body)).not.toContain("A one");
    }
    const list = await call(TENANT_A.apiKey, "GET", `/v1/templates/${id}`);
    expect(list.status).toBe(200);
    expect((list.body as { latestVersion: number }).latestVersion).toBe(2);
  });

  it("lists only the tenant's own templates", async () => {
    const ids = async (apiKey: string) =>
      (
        (await call(apiKey, "GET", "/v1/templates")).body as { templates: Array<{ id: string }> }
      ).templates.map((v) => v.id);
    expect(await ids(TENANT_A.apiKey)).toContain(id);
    expect(await ids(TENANT_B.apiKey)).not.toContain(id);
  });

  it("refuses B's render of A's template with the same answer as a template that does not exist", async () => {
    const absent = "no-such-template";
    const foreign = await call(TENANT_B.apiKey, "POST", "/v1/renders", {
      template: { id, version: 1 },
      output: { format: "png", width: 20, height: 20 },
    });
    const missing = await call(TENANT_B.apiKey, "POST", "/v1/renders", {
      template: { id: absent, version: 1 },
      output: { format: "png", width: 20, height: 20 },
    });
    expect(foreign.status).toBe(400);
    expect(shape(foreign, id)).toEqual(shape(missing, absent));
    expect(foreign.body).toMatchObject({ error: { fields: [{ field: "template.id" }] } });
  });

  it("gives B its own namespace: the same id starts at version 1 for B and leaves A's versions alone", async () => {
    const b = await t.clientB.createTemplate({ id, html: "<p>B's own</p>" });
    expect(b).toMatchObject({ id, version: 1, created: true });
    const a1 = await t.clientA.getTemplateVersion(id, 1);
    expect(a1.html).toBe("<p>A one {{ n }}</p>");
    expect((await t.clientA.getTemplate(id)).latestVersion).toBe(2);
    expect((await t.clientB.getTemplateVersion(id, 1)).html).toBe("<p>B's own</p>");
  });
});

describe("assets", () => {
  const key = "brand/tenant-logo.svg";
  const job = {
    template: { html: `<img src="{{ 'logo' | asset_url }}" style="display:block;width:20px;height:20px">` },
    assets: { logo: key },
    output: { format: "png", width: 20, height: 20 },
  };
  const centre = async (view: JobView, client = t.clientA) => {
    const png = PNG.sync.read(Buffer.from(await client.download(view)));
    const i = (10 * png.width + 10) * 4;
    return [png.data[i], png.data[i + 1], png.data[i + 2]];
  };

  it("fails B's render naming A's asset exactly like one naming an asset that does not exist", async () => {
    await t.clientA.putAsset(key, svg("#ff0000"), "image/svg+xml");
    const foreign = await rendered(TENANT_B.apiKey, job);
    const absentKey = "brand/no-such-logo.svg";
    const missing = await rendered(TENANT_B.apiKey, { ...job, assets: { logo: absentKey } });
    expect(foreign.status).toBe("failed");
    expect(foreign.error?.code).toBe("asset_missing");
    expect(foreign.error?.message.replace(key, "<key>")).toBe(
      missing.error?.message.replace(absentKey, "<key>"),
    );
  });

  it("keeps B's upload under the same key apart from A's: each tenant renders its own file", async () => {
    await t.clientB.putAsset(key, svg("#0000ff"), "image/svg+xml");
    const a = await rendered(TENANT_A.apiKey, job);
    const b = await rendered(TENANT_B.apiKey, job);
    expect(a.status).toBe("succeeded");
    expect(b.status).toBe("succeeded");
    expect(await centre(a)).toEqual([255, 0, 0]);
    expect(await centre(b, t.clientB)).toEqual([0, 0, 255]);
  });
});

describe("secrets", () => {
  it("gives each tenant its own webhook secret, the same on every request", async () => {
    const a1 = await t.clientA.getWebhookSecret();
    const b1 = await t.clientB.getWebhookSecret();
    expect(a1).toMatch(/^whsec_/);
    expect(b1).toMatch(/^whsec_/);
    expect(b1).not.toBe(a1);
    expect(await t.clientA.getWebhookSecret()).toBe(a1);
    expect(await t.clientB.getWebhookSecret()).toBe(b1);
  });

  it("stores API keys only as their SHA-256: no raw DynamoDB item holds a key", async () => {
    const dynamodb = new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb));
    const items: string[] = [];
    for await (const page of paginateScan({ client: dynamodb }, { TableName: t.stack.names.jobsTable })) {
      for (const item of page.Items ?? []) items.push(JSON.stringify(item));
    }
    dynamodb.destroy();
    const everything = items.join("\n");
    for (const { apiKey } of [TENANT_A, TENANT_B]) {
      expect(everything).not.toContain(apiKey);
      // The key's digest is there, so the scan did read the key items.
      expect(everything).toContain(`APIKEY#${hashApiKey(apiKey)}`);
    }
  });
});

describe("per-tenant rate limit", () => {
  const LIMIT = { perSecond: 0.1, burst: 3 };
  let limited: TestStack;
  beforeAll(async () => {
    limited = await startTestStack({ rateLimit: LIMIT, workerConcurrency: 0 });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  /** One attempt, so that the refusal itself is seen rather than retried after its Retry-After. */
  const clientFor = (apiKey: string) =>
    new KilnClient({ baseUrl: limited.stack.apiUrl, apiKey, retry: { attempts: 1 } });
  const get = (apiKey: string) =>
    clientFor(apiKey)
      .getWebhookSecret()
      .then(
        () => ({ status: 200, retryAfterMs: undefined, body: undefined as unknown }),
        (err: unknown) => {
          if (!(err instanceof KilnApiError)) throw err;
          return { status: err.status, retryAfterMs: err.retryAfterMs, body: err.body };
        },
      );

  it("answers 429 with Retry-After and the limit once a tenant is over it, while another tenant is unaffected", async () => {
    for (let i = 0; i < LIMIT.burst; i++) expect((await get(TENANT_A.apiKey)).status).toBe(200);
    const refused = await get(TENANT_A.apiKey);
    expect(refused.status).toBe(429);
    // One token every 10 s: the wait is whole seconds, at most that.
    const retryAfter = (refused.retryAfterMs ?? 0) / 1000;
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 10).toBe(true);
    expect(refused.body).toEqual({
      error: {
        code: "rate_limited",
        message: expect.stringContaining("0.1 requests per second with bursts of 3"),
      },
    });
    // Tenant B has its own bucket.
    for (let i = 0; i < LIMIT.burst; i++) expect((await get(TENANT_B.apiKey)).status).toBe(200);
    // A render submission of A's is refused too, and nothing is queued for it.
    const submit = await clientFor(TENANT_A.apiKey)
      .submitRender(SMALL_JOB)
      .catch((err: unknown) => err);
    expect(submit).toBeInstanceOf(KilnApiError);
    expect((submit as KilnApiError).status).toBe(429);
  });
});
