/**
 * Lambda entry of the render worker. The browser pool lives at module scope so a warm container
 * reuses its Chromium across invocations.
 */
import { availableParallelism } from "node:os";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";
import { emfMetrics } from "../../adapters/aws/emf-metrics.js";
import { S3ObjectStore } from "../../adapters/aws/s3-object-store.js";
import { BrowserPool } from "../../adapters/chromium/browser-pool.js";
import { ChromiumRenderer } from "../../adapters/chromium/chromium-renderer.js";
import { jsonLogger } from "../../adapters/json-logger.js";
import { ENV, RENDER_QUEUE } from "../../core/constants.js";
import { systemClock } from "../../core/ports.js";
import { readEnv } from "../env.js";
import { makeHandler } from "./handler.js";

const env = readEnv(
  {
    [ENV.jobsTable]: z.string().min(1),
    [ENV.outputsBucket]: z.string().min(1),
    [ENV.maxReceiveCount]: z.coerce.number().int().min(1).default(RENDER_QUEUE.maxReceiveCount),
    [ENV.rendersPerBrowser]: z.coerce.number().int().min(1).default(500),
  },
  {
    component: "render-worker",
    hints: {
      [ENV.jobsTable]: "the name of the jobs table",
      [ENV.outputsBucket]: "the name of the outputs bucket",
      [ENV.maxReceiveCount]: "the render queue's maxReceiveCount (a whole number ≥ 1)",
      [ENV.rendersPerBrowser]: "how many renders one Chromium serves before it is recycled (≥ 1)",
    },
  },
);

const pool = new BrowserPool({ maxRendersPerBrowser: env[ENV.rendersPerBrowser] });

export const handler = makeHandler({
  jobs: new DynamoDbJobStore(new DynamoDBClient({}), env[ENV.jobsTable]),
  renderer: new ChromiumRenderer({ pool }),
  outputs: new S3ObjectStore(new S3Client({}), env[ENV.outputsBucket]),
  clock: systemClock,
  maxReceiveCount: env[ENV.maxReceiveCount],
  // Lambda grants vCPUs in proportion to memory; one page per vCPU keeps Chromium busy without thrashing.
  concurrency: availableParallelism(),
  logger: jsonLogger("render-worker"),
  metrics: emfMetrics("render-worker"),
});
