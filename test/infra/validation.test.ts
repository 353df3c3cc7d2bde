import { Duration, Stack } from "aws-cdk-lib";
import { afterAll, describe, expect, it } from "vitest";
import { buildKilnApp, kilnPropsFromContext } from "../../lib/app.js";
import { RenderQueue } from "../../lib/constructs/render-queue.js";
import { RenderWorker, type RenderWorkerProps } from "../../lib/constructs/render-worker.js";
import { KilnStack, type KilnStackProps } from "../../lib/kiln-stack.js";
import { scratchApps } from "./support.js";

const apps = scratchApps();
afterAll(() => apps.dispose());

// No bundling: every case here fails while the construct tree is being built.
const noBundling = { "aws:cdk:bundling-stacks": [] };
const build = (props: Partial<KilnStackProps>) =>
  new KilnStack(apps.app({ context: noBundling }), "Kiln-test", { stage: "dev", ...props });

describe("prop validation", () => {
  it("refuses a render worker with less than 2048 MB", () => {
    expect(() => build({ renderWorker: { memorySize: 1024 } })).toThrow(
      "renderWorker.memorySize must be at least 2048 MB: Chromium needs it.",
    );
  });

  it("refuses worker settings the SQS event source cannot honour", () => {
    expect(() => build({ renderWorker: { maxConcurrency: 1 } })).toThrow(
      /renderWorker\.maxConcurrency must be a whole number from 2 to 1000/,
    );
    expect(() => build({ renderWorker: { batchSize: 11 } })).toThrow(/renderWorker\.batchSize/);
    expect(() => build({ renderWorker: { timeout: Duration.seconds(5) } })).toThrow(
      /renderWorker\.timeout must be between 10 and 900 seconds/,
    );
    expect(() => build({ renderWorker: { maxConcurrency: 20, reservedConcurrency: 5 } })).toThrow(
      /reservedConcurrency \(5\) must be at least renderWorker\.maxConcurrency \(20\)/,
    );
  });

  it("refuses a queue whose visibility timeout is shorter than six worker timeouts", () => {
    const stack = new Stack(apps.app({ context: noBundling }), "Bare");
    const queue = new RenderQueue(stack, "Queue", { workerTimeout: Duration.seconds(30) });
    // Validation runs before any other prop is touched.
    const props = { queue, timeout: Duration.seconds(60) } as unknown as RenderWorkerProps;
    expect(() => new RenderWorker(stack, "Worker", props)).toThrow(
      "The render queue's visibility timeout (180 s) must be at least 6 × the worker timeout (60 s)",
    );
  });

  it("refuses signed URLs that live too long, outputs that expire before their jobs, and a bad alarm address", () => {
    expect(() => build({ signedUrlTtl: Duration.hours(2) })).toThrow(
      /signedUrlTtl must be between 30 and 3600 seconds/,
    );
    expect(() => build({ outputsExpirationDays: 7 })).toThrow(
      /outputsExpirationDays must be a whole number of at least 30 days/,
    );
    expect(() => build({ alarmEmail: "ops" })).toThrow('alarmEmail must be an email address; got "ops".');
  });

  it("refuses half a supplied signing key", () => {
    expect(() => build({ signingKey: { publicKeyPem: "-----BEGIN PUBLIC KEY-----\n..." } })).toThrow(
      "signingKey.publicKeyPem and signingKey.privateKeySecret must be given together",
    );
  });

  it("reads the stage and numbers from --context and refuses anything else", () => {
    expect(() =>
      buildKilnApp({ outdir: apps.outdir(), context: { stage: "staging", ...noBundling } }),
    ).toThrow('stage must be one of dev, prod (pass --context stage=dev); got "staging".');
    const read = (context: Record<string, unknown>) => kilnPropsFromContext((key) => context[key]);
    expect(read({}).stage).toBe("dev");
    const props = read({
      stage: "prod",
      workerMemorySize: "3008",
      workerMaxConcurrency: "50",
      apiCloudWatchRole: "false",
    });
    expect(props).toMatchObject({
      stage: "prod",
      renderWorker: { memorySize: 3008, maxConcurrency: 50 },
      api: { cloudWatchRole: false },
    });
    expect(() => read({ workerMemorySize: "lots" })).toThrow(
      '--context workerMemorySize must be a number; got "lots".',
    );
    expect(() => build(read({ workerMemorySize: "1024" }))).toThrow(
      "renderWorker.memorySize must be at least 2048 MB",
    );
  });
});
