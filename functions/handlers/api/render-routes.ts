import { KilnError, NotFoundError, ValidationError } from "../../core/errors.js";
import { toJobView } from "../../core/job-view.js";
import { checkPartTemplates } from "../../core/pdf-finishing.js";
import { checkIdempotencyKey, submitRender } from "../../core/submit-render.js";
import { checkRenderTemplate } from "../../core/templates.js";
import { callbackUrlProblem, previousSecretExpiry, type WebhookSecrets } from "../../core/webhooks.js";
import { json } from "./http-response.js";
import { header, type OperationHandlers } from "./request.js";

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Render jobs, and the secret their webhooks are signed with. */
export const renderHandlers: Pick<
  OperationHandlers,
  "submitRender" | "getRender" | "getWebhookSecret" | "rotateWebhookSecret"
> = {
  async submitRender({ tenant, event, body: submission, correlationId, logger }, deps) {
    const problem = submission.callbackUrl && callbackUrlProblem(submission.callbackUrl, deps.callbackPolicy);
    if (problem) throw new ValidationError([{ field: "callbackUrl", message: problem }]);
    // A stored template must exist, and data must satisfy its schema: 400 before anything is queued.
    await checkRenderTemplate(deps.templates, tenant, submission.template, submission.data);
    await checkPartTemplates(deps.templates, tenant, submission.output.pdf);
    const rawKey = header(event, "idempotency-key");
    const key = rawKey === undefined ? undefined : checkIdempotencyKey(rawKey);
    let submitted: Awaited<ReturnType<typeof submitRender>>;
    try {
      submitted = await submitRender(deps, tenant, submission, key, correlationId);
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
    const { job, replayed } = submitted;
    const headers: Record<string, string> = { location: `/v1/renders/${job.id}` };
    if (replayed) {
      headers["idempotent-replayed"] = "true";
      logger.info("job replayed for its idempotency key", { tenant, jobId: job.id });
      return json(200, { id: job.id, status: job.status }, headers);
    }
    logger.info("job queued", { tenant, jobId: job.id, large: job.payloadKey !== undefined });
    return json(202, { id: job.id, status: job.status }, headers);
  },

  async getRender({ tenant, params: { id } }, deps) {
    const job = JOB_ID.test(id) ? await deps.jobs.get(tenant, id) : undefined;
    if (!job) throw new NotFoundError(`No render job ${id}.`);
    const [url] = job.output ? await deps.signer.sign(tenant, [job.output.key]) : [];
    return json(200, toJobView(job, url));
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

function secretView(secrets: WebhookSecrets, now: Date) {
  const previousSecretExpiresAt = previousSecretExpiry(secrets, now);
  return {
    secret: secrets.current,
    scheme: "standard-webhooks-v1",
    ...(previousSecretExpiresAt ? { previousSecretExpiresAt } : {}),
  } as const;
}
