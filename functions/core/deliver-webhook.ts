import { WEBHOOK_QUEUE } from "./constants.js";
import { isTerminal, type WebhookAttempt } from "./job.js";
import type {
  Clock,
  JobStore,
  WebhookMessage,
  WebhookQueue,
  WebhookSecretStore,
  WebhookSender,
} from "./ports.js";
import { type StoreRetry, withStoreRetry } from "./retry-policy.js";
import {
  CallbackRefusedError,
  type CallbackUrlPolicy,
  callbackUrlProblem,
  nextWebhookDelaySeconds,
  signedWebhookRequest,
  signingSecrets,
  type WebhookRetrySchedule,
} from "./webhooks.js";

export interface DeliverWebhookDeps {
  readonly jobs: JobStore;
  readonly secrets: WebhookSecretStore;
  readonly queue: WebhookQueue;
  readonly sender: WebhookSender;
  readonly clock: Clock;
  readonly policy: CallbackUrlPolicy;
  readonly schedule: WebhookRetrySchedule;
  /** How long a receiver gets to answer one delivery. */
  readonly timeoutMs: number;
  readonly storeRetry?: StoreRetry;
}

export type DeliverWebhookResult =
  | { readonly outcome: "delivered"; readonly status: number }
  | {
      readonly outcome: "scheduled";
      readonly nextAttempt: number;
      readonly delaySeconds: number;
      readonly error: string;
    }
  | { readonly outcome: "gave-up"; readonly error: string }
  | { readonly outcome: "skipped"; readonly reason: string }
  /** Not due yet: sent back to the queue for the rest of its wait. */
  | { readonly outcome: "deferred"; readonly delaySeconds: number };

/**
 * One delivery attempt of a job's completion event. A failed attempt schedules the next one as a new
 * delayed message *before* recording itself, so a crash in between can only repeat an attempt, never
 * drop the rest of the schedule. Attempts already recorded on the job are not made again.
 */
export async function deliverWebhook(
  deps: DeliverWebhookDeps,
  message: WebhookMessage,
): Promise<DeliverWebhookResult> {
  const { jobs, clock } = deps;
  const store = <T>(call: () => Promise<T>) => withStoreRetry(call, deps.storeRetry);
  const now = clock.now();

  if (message.notBefore !== undefined && message.notBefore - now.getTime() > 1000) {
    const delaySeconds = Math.min(
      WEBHOOK_QUEUE.maxDelaySeconds,
      Math.ceil((message.notBefore - now.getTime()) / 1000),
    );
    await store(() => deps.queue.enqueue(message, delaySeconds));
    return { outcome: "deferred", delaySeconds };
  }

  const job = await store(() => jobs.get(message.tenant, message.jobId));
  if (!job) return { outcome: "skipped", reason: "the job does not exist" };
  if (!job.callbackUrl) return { outcome: "skipped", reason: "the job has no callbackUrl" };
  if (!isTerminal(job.status)) return { outcome: "skipped", reason: "the job has not ended" };
  const state = job.webhook;
  if (state?.state === "delivered" || state?.state === "failed") {
    return { outcome: "skipped", reason: `the webhook is already ${state.state}` };
  }
  if ((state?.attempts.length ?? 0) >= message.attempt) {
    return { outcome: "skipped", reason: `attempt ${message.attempt} was already made` };
  }

  const at = now.toISOString();
  /** A delivery that can never succeed: recorded as failed, with no further attempts. */
  const refuse = async (problem: string, durationMs: number): Promise<DeliverWebhookResult> => {
    const error = `callbackUrl is not allowed: ${problem}`;
    await store(() =>
      jobs.recordWebhook(job.tenant, job.id, {
        attempt: { attempt: message.attempt, at, error, durationMs },
        state: "failed",
      }),
    );
    return { outcome: "gave-up", error };
  };
  const problem = callbackUrlProblem(job.callbackUrl, deps.policy);
  if (problem) return refuse(problem, 0);

  const secrets = await store(() => deps.secrets.getOrCreate(job.tenant));
  // During a rotation's overlap both secrets sign, so receivers may switch at any moment within it.
  const { headers, body } = signedWebhookRequest(signingSecrets(secrets, now), job, now);
  const started = performance.now();
  let status: number | undefined;
  let error: string | undefined;
  try {
    ({ status } = await deps.sender.post(job.callbackUrl, headers, body, deps.timeoutMs));
    if (status >= 300 && status <= 399)
      error = `the receiver answered HTTP ${status}; redirects are not followed`;
    else if (status < 200 || status > 299) error = `the receiver answered HTTP ${status}`;
  } catch (err) {
    // The sender resolved the host and found an address Kiln does not call: no retry can change that.
    if (err instanceof CallbackRefusedError)
      return refuse(err.message, Math.round(performance.now() - started));
    const e = err as Error;
    error =
      e.name === "TimeoutError" || e.name === "AbortError"
        ? `no answer within ${deps.timeoutMs} ms`
        : `the request failed: ${e.message}`;
  }
  const attempt: WebhookAttempt = {
    attempt: message.attempt,
    at,
    ...(status !== undefined ? { status } : {}),
    ...(error ? { error } : {}),
    durationMs: Math.round(performance.now() - started),
  };

  if (!error) {
    await store(() => jobs.recordWebhook(job.tenant, job.id, { attempt, state: "delivered" }));
    return { outcome: "delivered", status: status ?? 200 };
  }

  const firstAt = state?.attempts[0] ? Date.parse(state.attempts[0].at) : now.getTime();
  const delaySeconds = nextWebhookDelaySeconds(deps.schedule, message.attempt, firstAt, now.getTime());
  if (delaySeconds === undefined) {
    await store(() => jobs.recordWebhook(job.tenant, job.id, { attempt, state: "failed" }));
    return { outcome: "gave-up", error };
  }
  const notBefore = now.getTime() + delaySeconds * 1000;
  await store(() =>
    deps.queue.enqueue(
      {
        tenant: job.tenant,
        jobId: job.id,
        attempt: message.attempt + 1,
        notBefore,
        ...(job.correlationId ? { correlationId: job.correlationId } : {}),
      },
      Math.min(delaySeconds, WEBHOOK_QUEUE.maxDelaySeconds),
    ),
  );
  await store(() =>
    jobs.recordWebhook(job.tenant, job.id, {
      attempt,
      state: "retrying",
      nextAttemptAt: new Date(notBefore).toISOString(),
    }),
  );
  return { outcome: "scheduled", nextAttempt: message.attempt + 1, delaySeconds, error };
}
