/**
 * The sandbox's local Lambda Runtime API, driven over HTTP the way a Lambda runtime drives it (here by
 * fetch instead of the sandboxed runtime loop), and the resolution of synthesized CloudFormation values.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type LocalBinding, resolveCfnValue } from "../../bin/artifacts/cloud-assembly.js";
import { type RuntimeApi, startRuntimeApi } from "../../bin/artifacts/runtime-api.js";

const apis: RuntimeApi[] = [];
afterEach(async () => {
  await Promise.all(apis.splice(0).map((api) => api.stop()));
});

async function runtimeApi(timeoutMs = 10_000, onTimeout?: (error: Error) => void): Promise<RuntimeApi> {
  const api = await startRuntimeApi({ functionName: "kiln-fn", region: "us-east-1", timeoutMs, onTimeout });
  apis.push(api);
  return api;
}

const at = (api: RuntimeApi, path: string) => `http://${api.address}/2018-06-01${path}`;

describe("the local Runtime API", () => {
  it("hands an invocation to the runtime's next request with Lambda's headers and resolves with its response", async () => {
    const api = await runtimeApi();
    const result = api.invoke({ n: 41 });
    const next = await fetch(at(api, "/runtime/invocation/next"));
    await expect(api.initialized).resolves.toBeUndefined();
    expect(next.status).toBe(200);
    const id = String(next.headers.get("lambda-runtime-aws-request-id"));
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(next.headers.get("lambda-runtime-invoked-function-arn")).toBe(
      "arn:aws:lambda:us-east-1:000000000000:function:kiln-fn",
    );
    const deadline = Number(next.headers.get("lambda-runtime-deadline-ms"));
    expect(deadline).toBeGreaterThan(Date.now() + 5_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 10_000);
    expect(next.headers.get("lambda-runtime-trace-id")).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};/);
    expect(await next.json()).toEqual({ n: 41 });
    const posted = await fetch(at(api, `/runtime/invocation/${id}/response`), {
      method: "POST",
      body: JSON.stringify({ n: 42 }),
    });
    expect(posted.status).toBe(202);
    await expect(result).resolves.toEqual({ n: 42 });
  });

  it("rejects an invocation with the error the runtime posts, its stack included", async () => {
    const api = await runtimeApi();
    // Settled into a value at once: the rejection comes while the test is still posting.
    const outcome = api.invoke({}).catch((e: unknown) => e as Error);
    const next = await fetch(at(api, "/runtime/invocation/next"));
    const id = String(next.headers.get("lambda-runtime-aws-request-id"));
    await next.arrayBuffer();
    await fetch(at(api, `/runtime/invocation/${id}/error`), {
      method: "POST",
      body: JSON.stringify({
        errorType: "ValidationError",
        errorMessage: "keys: required",
        stackTrace: ["at parse (/work/functions/core/render-request.ts:198:30)"],
      }),
    });
    const error = (await outcome) as Error | undefined;
    expect(error?.name).toBe("ValidationError");
    expect(error?.message).toBe("kiln-fn failed: ValidationError: keys: required");
    expect(error?.stack).toContain("render-request.ts:198:30");
    // The id is spent: a second answer is refused, as Lambda refuses it.
    const again = await fetch(at(api, `/runtime/invocation/${id}/response`), { method: "POST", body: "1" });
    expect(again.status).toBe(400);
  });

  it("fails init and every invocation with the reason the runtime posts to /runtime/init/error", async () => {
    const api = await runtimeApi();
    const pending = api.invoke({}).catch((e: unknown) => e as Error);
    await fetch(at(api, "/runtime/init/error"), {
      method: "POST",
      body: JSON.stringify({
        errorType: "Runtime.ImportModuleError",
        errorMessage: "Cannot find module 'index'",
      }),
    });
    const reason = "kiln-fn failed to initialize: Runtime.ImportModuleError: Cannot find module 'index'";
    await expect(api.initialized).rejects.toThrow(reason);
    expect(((await pending) as Error).message).toBe(reason);
    await expect(api.invoke({})).rejects.toThrow(reason);
  });

  it("gives up an invocation at its deadline and says so", async () => {
    let timedOut: Error | undefined;
    const api = await runtimeApi(300, (error) => {
      timedOut = error;
    });
    const outcome = api.invoke({}).catch((e: unknown) => e as Error);
    const next = await fetch(at(api, "/runtime/invocation/next"));
    await next.arrayBuffer();
    expect(((await outcome) as Error).message).toBe("kiln-fn: Task timed out after 0.30 seconds");
    expect(timedOut?.message).toBe("kiln-fn: Task timed out after 0.30 seconds");
  });

  it("rejects pending and later invocations once the environment is gone", async () => {
    const api = await runtimeApi();
    const pending = api.invoke({});
    api.fail(new Error("kiln-fn exited (code 1) in the sandbox."));
    await expect(pending).rejects.toThrow("exited (code 1)");
    await expect(api.invoke({})).rejects.toThrow("exited (code 1)");
  });
});

describe("synthesized values resolved against local resources", () => {
  const bindings = new Map<string, LocalBinding>([
    ["Table1", { ref: "kiln-dev-jobs" }],
    ["Cdn1", { attributes: { DomainName: "127.0.0.1:4000" } }],
  ]);

  it("resolves Ref, Fn::GetAtt, Fn::Join and Fn::Select, and keeps literals", () => {
    expect(resolveCfnValue({ Ref: "Table1" }, bindings, "t")).toBe("kiln-dev-jobs");
    expect(
      resolveCfnValue(
        { "Fn::Join": ["", ["https://", { "Fn::GetAtt": ["Cdn1", "DomainName"] }]] },
        bindings,
        "t",
      ),
    ).toBe("https://127.0.0.1:4000");
    expect(resolveCfnValue({ "Fn::Select": [1, ["a", { Ref: "Table1" }]] }, bindings, "t")).toBe(
      "kiln-dev-jobs",
    );
    expect(resolveCfnValue("INFO", bindings, "t")).toBe("INFO");
    expect(resolveCfnValue(300, bindings, "t")).toBe("300");
  });

  it("names the variable and the logical id nothing local stands for", () => {
    expect(() => resolveCfnValue({ Ref: "Queue9" }, bindings, "Worker KILN_QUEUE_URL")).toThrow(
      "Worker KILN_QUEUE_URL: nothing local stands for Ref Queue9.",
    );
    expect(() => resolveCfnValue({ "Fn::GetAtt": ["Cdn1", "Arn"] }, bindings, "Signer X")).toThrow(
      "Signer X: nothing local stands for Cdn1.Arn.",
    );
    expect(() => resolveCfnValue({ "Fn::ImportValue": "x" }, bindings, "F V")).toThrow(
      'F V: the sandbox cannot resolve {"Fn::ImportValue":"x"}.',
    );
  });
});
