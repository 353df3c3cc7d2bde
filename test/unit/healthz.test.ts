import { describe, expect, it } from "vitest";
import { runHealthChecks } from "../../functions/local/healthz.js";
import { readableLogLine } from "../../functions/local/readable-log.js";

describe("health check aggregation", () => {
  it("is ok when every check answers, keeping each check's note", async () => {
    const report = await runHealthChecks({
      sqs: async () => undefined,
      chromium: async () => "running (pid 42)",
    });
    expect(report.status).toBe("ok");
    expect(report.failing).toBeUndefined();
    expect(report.checks.sqs?.status).toBe("ok");
    expect(report.checks.chromium).toMatchObject({ status: "ok", detail: "running (pid 42)" });
  });

  it("fails naming each failing check by its error code, never its message", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4567 at /internal/path"), {
      code: "ECONNREFUSED",
    });
    const report = await runHealthChecks({
      sqs: async () => undefined,
      dynamodb: async () => {
        throw refused;
      },
      s3: async () => {
        throw new Error("bucket kiln-outputs secret detail");
      },
    });
    expect(report.status).toBe("failing");
    expect(report.failing).toEqual(["dynamodb", "s3"]);
    expect(report.checks.dynamodb).toMatchObject({ status: "failing", detail: "ECONNREFUSED" });
    expect(report.checks.s3).toMatchObject({ status: "failing", detail: "unreachable" });
    expect(JSON.stringify(report)).not.toContain("secret");
    expect(JSON.stringify(report)).not.toContain("/internal/path");
    expect(report.checks.sqs?.status).toBe("ok");
  });

  it("fails a check that never answers once its time is up", async () => {
    const report = await runHealthChecks({ s3: () => new Promise<never>(() => {}) }, 20);
    expect(report.failing).toEqual(["s3"]);
    expect(report.checks.s3?.detail).toBe("no answer within 20 ms");
  });
});

describe("readable local log lines", () => {
  it("turns a JSON log object into time, level, message and key=value fields", () => {
    const time = new Date(2026, 10, 3, 9, 5, 7, 42).toISOString();
    const line = JSON.stringify({
      level: "INFO",
      timestamp: time,
      service: "kiln-local",
      message: "job queued",
      tenant: "acme",
      detail: { large: false },
      note: "two words",
    });
    expect(readableLogLine(line)).toBe(
      '09:05:07.042 INFO  job queued tenant=acme detail={"large":false} note="two words"',
    );
  });

  it("colours the level only when asked, and passes anything that is not a JSON object through", () => {
    const line = JSON.stringify({ level: "error", message: "boom" });
    expect(readableLogLine(line, { colour: true })).toBe("\u001b[31mERROR\u001b[0m boom");
    expect(readableLogLine(line)).toBe("ERROR boom");
    expect(readableLogLine("plain text")).toBe("plain text");
    expect(readableLogLine("[1,2]")).toBe("[1,2]");
  });
});
