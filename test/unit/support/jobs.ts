import type { Job } from "../../../functions/core/job.js";

/** Job j1 of tenant t: rendered at 00:00:09, its completion webhook to `callbackUrl` not yet sent. */
export function jobAwaitingWebhook(overrides: Partial<Job> = {}): Job {
  return {
    tenant: "t",
    id: "j1",
    status: "succeeded",
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:09.000Z",
    attempts: 1,
    output: { key: "outputs/t/x.png", contentType: "image/png", bytes: 5, sha256: "x" },
    callbackUrl: "https://hooks.example.com/k",
    webhook: { state: "pending", attempts: [] },
    ...overrides,
  };
}
