import type { Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  localLogFormat,
  powertoolsLogger,
  withLambdaContext,
} from "../../functions/adapters/powertools-logger.js";
import { silentLogger } from "../../functions/adapters/silent-logger.js";
import { generateApiKey } from "../../functions/core/api-keys.js";
import { REDACTED } from "../../functions/core/redaction.js";

type Line = Record<string, unknown>;

function capture(serviceName = "render-worker") {
  const lines: Line[] = [];
  const raw: string[] = [];
  const logger = powertoolsLogger({
    serviceName,
    write: (line) => {
      raw.push(line);
      lines.push(JSON.parse(line) as Line);
    },
  });
  return { logger, lines, raw };
}

const context = {
  functionName: "kiln-dev-render-worker",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:kiln-dev-render-worker",
  memoryLimitInMB: "2048",
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
  logGroupName: "/aws/lambda/kiln-dev-render-worker",
  logStreamName: "2026/11/01/[$LATEST]abc",
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as Context;

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("the Powertools logger adapter", () => {
  it("writes one JSON object per line with level, message, service, timestamp and the fields", () => {
    const { logger, lines, raw } = capture();
    logger.info("render succeeded", { jobId: "j1", durationMs: 91 });
    logger.warn("heartbeat failed", { error: "throttled" });
    logger.error("record failed", { messageId: "m1" });
    expect(raw.every((line) => !line.includes("\n"))).toBe(true);
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ["INFO", "render succeeded"],
      ["WARN", "heartbeat failed"],
      ["ERROR", "record failed"],
    ]);
    expect(lines[0]).toMatchObject({ service: "render-worker", jobId: "j1", durationMs: 91 });
    expect(Date.parse(String(lines[0]?.timestamp))).not.toBeNaN();
  });

  it("puts a child's fields on every line it writes, merges nested scopes and leaves the parent alone", () => {
    const { logger, lines } = capture();
    const job = logger.child({ jobId: "j1", tenant: "acme", correlationId: "req-42" });
    job.info("render message received");
    job.child({ attempt: 2 }).warn("render attempt failed; will retry");
    logger.info("batch done");
    expect(lines[0]).toMatchObject({ jobId: "j1", tenant: "acme", correlationId: "req-42" });
    expect(lines[1]).toMatchObject({ jobId: "j1", tenant: "acme", correlationId: "req-42", attempt: 2 });
    expect(lines[2]).not.toHaveProperty("jobId");
    expect(lines[2]).not.toHaveProperty("correlationId");
  });

  it("keeps children of concurrent records apart", async () => {
    const { logger, lines } = capture();
    await Promise.all(
      ["a", "b", "c"].map(async (jobId) => {
        const job = logger.child({ jobId });
        await new Promise((r) => setImmediate(r));
        job.info("render succeeded", { expected: jobId });
      }),
    );
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.jobId).toBe(line.expected);
  });

  it("redacts the whole line: message, fields, nested fields and a child's fields", () => {
    const { logger, raw } = capture("api");
    const apiKey = generateApiKey();
    const url = "https://cdn.example.com/assets/acme/logo.png?Expires=1&Signature=s3cr3t~sig&Key-Pair-Id=K1";
    logger.child({ headers: { "x-api-key": apiKey } }).error(`could not fetch ${url}`, {
      request: { urls: [url] },
      secret: "whsec_abcdefgh",
      error: new Error(apiKey),
    });
    const line = raw.join("\n");
    expect(line).not.toContain(apiKey);
    expect(line).not.toContain(apiKey.slice(5));
    expect(line).not.toContain("s3cr3t~sig");
    expect(line).not.toContain("whsec_abcdefgh");
    expect(line).toContain("/assets/acme/logo.png?Expires=1&Signature=");
    expect(line).toContain(REDACTED);
  });

  it("writes DEBUG lines only when POWERTOOLS_LOG_LEVEL asks for them", () => {
    const quiet = capture();
    quiet.logger.debug("render message received");
    expect(quiet.lines).toEqual([]);

    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "DEBUG");
    const verbose = capture();
    verbose.logger.child({ jobId: "j1" }).debug("render message received");
    expect(verbose.lines).toEqual([expect.objectContaining({ level: "DEBUG", jobId: "j1" })]);
  });

  it("samples invocations at DEBUG with POWERTOOLS_LOGGER_SAMPLE_RATE and says so on the line", () => {
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "INFO");
    vi.stubEnv("POWERTOOLS_LOGGER_SAMPLE_RATE", "1");
    const { logger, lines } = capture();
    logger.startInvocation(context);
    logger.debug("render message received");
    const line = lines.find((l) => l.message === "render message received");
    expect(line).toMatchObject({ level: "DEBUG", sampling_rate: 1 });
  });

  it("adds the Lambda context to the lines of an invocation and of children made in it", async () => {
    const { logger, lines } = capture();
    const handler = withLambdaContext(logger, async (event: { n: number }) => {
      logger.child({ jobId: "j1" }).info("render succeeded");
      return event.n + 1;
    });
    await expect(handler({ n: 1 }, context)).resolves.toBe(2);
    expect(lines[0]).toMatchObject({
      function_name: "kiln-dev-render-worker",
      function_request_id: context.awsRequestId,
      jobId: "j1",
    });
    // Powertools counts cold starts per process: only whether one is reported is this test's business.
    expect(typeof lines[0]?.cold_start).toBe("boolean");
  });
});

describe("cold start on the lines of an invocation", () => {
  it("is true on the first invocation's lines, children's included, and false on a warm one's", async () => {
    // Powertools reports cold starts only when Lambda says how the environment was initialized.
    vi.stubEnv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
    const { logger, lines } = capture();
    const handler = withLambdaContext(logger, async (jobId: string) => {
      logger.info("batch received");
      const job = logger.child({ jobId });
      job.info("render succeeded");
      job.child({ attempt: 1 }).info("webhook queued");
    });
    await handler("j1", context);
    await handler("j2", { ...context, awsRequestId: "second-request" } as Context);
    const coldStarts = (jobId?: string) =>
      lines
        .filter((l) => (jobId ? l.jobId === jobId : l.message === "batch received"))
        .map((l) => l.cold_start);
    expect(coldStarts("j1")).toEqual([true, true]);
    expect(coldStarts("j2")).toEqual([false, false]);
    expect(coldStarts()).toEqual([true, false]);
  });
});

describe("local log format", () => {
  it("follows KILN_LOG_FORMAT, else pretty at a terminal and JSON when piped", () => {
    expect(localLogFormat(undefined, true)).toBe("pretty");
    expect(localLogFormat(undefined, false)).toBe("json");
    expect(localLogFormat("pretty", false)).toBe("pretty");
    expect(localLogFormat(" JSON ", true)).toBe("json");
    expect(localLogFormat("fancy", false)).toBe("json");
  });
});

describe("the silent logger", () => {
  it("is its own child", () => {
    expect(silentLogger.child({ jobId: "j1" })).toBe(silentLogger);
  });
});
