import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KilnApiError, KilnClient, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { openApiDocument } from "../../functions/handlers/api/openapi.js";
import { startTestStack, type TestStack } from "./helpers/local-stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

describe("GET /openapi.json on the local stack", () => {
  it("serves a valid OpenAPI 3.1 document without an API key", async () => {
    const anonymous = new KilnClient({ baseUrl: t.stack.apiUrl });
    const doc = await anonymous.getOpenApi();
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(validator.version).toBe("3.1");
    expect(doc).toEqual(openApiDocument({ serverUrl: "/" }));
    // The document is public; the API it describes is not.
    await expect(anonymous.getWebhookSecret()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("describes requests the API accepts and the answers it gives", async () => {
    const doc = await t.clientA.getOpenApi();
    const job = JSON.parse(
      await readFile(join(import.meta.dirname, "../../examples/hello/job.json"), "utf8"),
    );
    const submitted = await t.clientA.submitRender(job as RenderSubmissionInput);
    expect(submitted.status).toBe("queued");
    const documented = Object.keys(
      (doc.paths as Record<string, Record<string, { responses: object }>>)["/v1/renders"]?.post?.responses ??
        {},
    );
    expect(documented).toContain("202");
    const refused = await t.clientA
      .submitRender({ ...job, output: { format: "gif" } } as RenderSubmissionInput)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KilnApiError);
    expect(documented).toContain(String((refused as KilnApiError).status));
    expect((refused as KilnApiError).fields.map((f) => f.field)).toEqual(["output.format"]);
  });
});
