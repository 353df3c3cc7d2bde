import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    // The SQS/S3 stand-in persists through node:sqlite, whose experimental notice is noise here.
    execArgv: ["--disable-warning=ExperimentalWarning"],
    // Integration tests start real stand-ins and Chromium; CDK synth bundles functions with esbuild.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: one Chromium-heavy file at a time keeps timings honest and memory low.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
