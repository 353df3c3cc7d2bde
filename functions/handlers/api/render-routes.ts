import type { APIGatewayProxyResult } from "aws-lambda";
import { KilnError, noSuch, ValidationError } from "../../core/errors.js";
import { isTerminal, type Job } from "../../core/job.js";
import { toJobView } from "../../core/job-view.js";
import { checkPartTemplates } from "../../core/pdf-finishing.js";
import { CONTENT_TYPES } from "../../core/render-request.js";
import { systemTimer, waitForTerminal } from "../../core/render-wait.js";
import { checkIdempotencyKey, submitRender } from "../../core/submit-render.js";
import { checkRenderTemplate } from "../../core/templates.js";
import { pageSettingsIssues } from "../../core/url-source.js";
import { callbackUrlProblem, previousSecretExpiry, type WebhookSecrets } from "../../core/webhooks.js";
import type { RouteDeps } from "./handler.js";
import { json } from "./http-response.js";
import { isResourceId } from "./operations.js";
import {
  chooseRepresentation,
  type Representation,
  requestedWait,
  waitApplied,
} from "./render-preferences.js";
import { header, type OperationHandlers } from "./request.js";

/** Render jobs, and the secret their webhooks are signed with. */
export const renderHandlers: Pick<
  OperationHandlers,
  "submitRender" | "getRender" | "getWebhookSecret" | "rotateWebhookSecret"
> = {
  async submitRender({ tenant, event, body: submission, correlationId, logger }, deps) {
    const problem = submission.callbackUrl && callbackUrlProblem(submission.callbackUrl, deps.callbackPolicy);
    if (problem) throw new ValidationError([{ field: "callbackUrl", message: problem }]);
    // A stored template must exist, and data must satisfy its schema: 400 before anything is queued.
    const template = submission.template
      ? await checkRenderTemplate(deps.templates, tenant, submission.template, submission.data)
      : undefined;
    // A live page: on an allowlisted host, with JavaScript only where allowed, before anything is stored.
    const pageIssues = submission.source
      ? pageSettingsIssues(submission, await deps.settings?.get(tenant))
      : [];
    if (pageIssues.length > 0) throw new ValidationError(pageIssues);
    const wait = requestedWait(event, false);
    const outputType = CONTENT_TYPES[submission.output.format];
    const representation = chooseRepresentation(header(event, "accept"), outputType);
    // Refused before anything is queued: this job could never answer what Accept asks for.
    if (representation.kind === "not_acceptable") return notAcceptable(representation.accept, outputType);
    await checkPartTemplates(deps.templates, tenant, submission.output.pdf);
    const rawKey = header(event, "idempotency-key");
    const key = rawKey === undefined ? undefined : checkIdempotencyKey(rawKey);
    let submitted: Awaited<ReturnType<typeof submitRender>>;
    try {
      submitted = await submitRender(deps, tenant, submission, key, correlationId, template);
    } catch (err) {
      if (err instanceof KilnError) throw err;
      // Nothing visible was created: the job record is written last. A retry (best with an
      // Idempotency-Key) finishes or repeats the submission safely.
      logger.error("submit failed", { tenant, error: (err as Error).message });
      return json(
        503,
        {
          error: {
            code: "unavailable",
            message:
              "The render could not be queued; no job was created. Retry the request, with the same Idempotency-Key if you sent one.",
          },
        },
        { "retry-after": "1" },
      );
    }
    const { job: submittedJob, replayed } = submitted;
    const headers: Record<string, string> = { location: jobPath(submittedJob.id) };
    if (replayed) {
      headers["idempotent-replayed"] = "true";
      logger.info("job replayed for its idempotency key", { tenant, jobId: submittedJob.id });
    } else if (submittedJob.cache?.state === "hit") {
      deps.metrics?.renderCacheHit({ format: submission.output.format });
      logger.info("job served from the render cache", {
        tenant,
        jobId: submittedJob.id,
        sourceJobId: submittedJob.cache.sourceJobId,
      });
    } else {
      logger.info("job queued", {
        tenant,
        jobId: submittedJob.id,
        large: submittedJob.payloadKey !== undefined,
        ...(submittedJob.cache ? { cache: submittedJob.cache.state } : {}),
      });
    }
    const job = (await awaitJob(deps, submittedJob, wait)) ?? submittedJob;
    const answerHeaders = { ...headers, ...waitApplied(wait) };
    if (isTerminal(job.status)) return answerTerminal(deps, job, representation, answerHeaders);
    if (replayed && representation.kind === "json") return json(200, toJobView(job), answerHeaders);
    return json(202, { id: job.id, status: job.status }, answerHeaders);
  },

  async getRender({ tenant, event, params: { id } }, deps) {
    const wait = requestedWait(event, true);
    const wellFormed = isResourceId(id);
    const found = wellFormed ? await deps.jobs.get(tenant, id) : undefined;
    const job = found && (await awaitJob(deps, found, wait));
    if (!job) throw noSuch("render job", id, wellFormed);
    const representation = chooseRepresentation(header(event, "accept"), job.output?.contentType);
    const headers = waitApplied(wait);
    // Only a known output type can be the wrong one: before success any output type is taken as asked for.
    if (representation.kind === "not_acceptable" && job.output) {
      return notAcceptable(representation.accept, job.output.contentType, headers);
    }
    if (isTerminal(job.status)) return answerTerminal(deps, job, representation, headers);
    if (representation.kind === "output") {
      return json(202, { id: job.id, status: job.status }, { ...headers, location: jobPath(job.id) });
    }
    return json(200, toJobView(job), headers);
  },

  /** How a tenant gets the secret its webhook receivers verify signatures with. */
  async getWebhookSecret({ tenant }, deps) {
    return json(200, secretView(await deps.webhookSecrets.getOrCreate(tenant), deps.clock.now()));
  },

  /** A new secret; the replaced one keeps signing for the overlap, so receivers can switch meanwhile. */
  async rotateWebhookSecret({ tenant }, deps) {
    const now = deps.clock.now();
    const secrets = await deps.webhookSecrets.rotate(tenant, now, deps.webhookSecretOverlapSeconds);
    const view = secretView(secrets, now);
    deps.logger.info("webhook secret rotated", {
      tenant,
      ...(view.previousSecretExpiresAt ? { previousSecretExpiresAt: view.previousSecretExpiresAt } : {}),
    });
    return json(200, view);
  },
};

const jobPath = (id: string) => `/v1/renders/${id}`;

/** The job once it is terminal or the wait is over (undefined if it vanished meanwhile); at once without a wait. */
async function awaitJob(
  deps: RouteDeps,
  job: Job,
  waitSeconds: number | undefined,
): Promise<Job | undefined> {
  if (!waitSeconds) return job;
  // Each read is one consistent GetItem of the job item (the request is kept apart): a projection
  // would not lower its cost, as DynamoDB charges a read by the item's size.
  const read = () => deps.jobs.get(job.tenant, job.id);
  return waitForTerminal(job, read, waitSeconds * 1000, deps.timer ?? systemTimer);
}

/**
 * A finished job as asked for: its view as JSON; or, for an output type, a 303 to the output's
 * signed URL, and a 422 with the job's failure when it failed (never a 2xx a client would save as
 * the output).
 */
async function answerTerminal(
  deps: RouteDeps,
  job: Job,
  representation: Representation,
  headers: Record<string, string>,
): Promise<APIGatewayProxyResult> {
  const [url] = job.output ? await deps.signer.sign(job.tenant, [job.output.key]) : [];
  if (representation.kind === "output") {
    if (url) return json(303, toJobView(job, url), { ...headers, location: url.url });
    const failure = job.error ?? { code: "render_failed", message: `Render job ${job.id} did not succeed.` };
    return json(422, { error: failure }, { ...headers, location: jobPath(job.id) });
  }
  return json(200, toJobView(job, url), headers);
}

function notAcceptable(
  accept: string,
  outputType: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return json(
    406,
    {
      error: {
        code: "not_acceptable",
        message: `Accept is ${accept.slice(0, 200)}, but this job's output is ${outputType}; accept ${outputType} or application/json.`,
      },
    },
    headers,
  );
}

function secretView(secrets: WebhookSecrets, now: Date) {
  const previousSecretExpiresAt = previousSecretExpiry(secrets, now);
  return {
    secret: secrets.current,
    scheme: "standard-webhooks-v1",
    ...(previousSecretExpiresAt ? { previousSecretExpiresAt } : {}),
  } as const;
}
