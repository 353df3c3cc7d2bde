/** Settings that several functions read, described once. */
import { z } from "zod";
import { ENV, JOB_RETENTION_DAYS, SIGNED_URL_DEFAULT_TTL_SECONDS } from "../core/constants.js";
import { SIGNED_URL_TTL_BOUNDS } from "../core/signing-policy.js";
import { DEFAULT_CALLBACK_POLICY } from "../core/webhooks.js";
import { resource, setting } from "./function-definition.js";

const name = z.string().min(1);
// Not z.url(): the local SQS stand-in's queue URLs name a host (sqs.<region>.127.0.0.1) that WHATWG
// URL parsing rejects, and the local stack parses its configuration exactly as Lambda does.
const queueUrl = z.string().regex(/^https?:\/\/\S+$/, "must be an http(s) URL");

export const SHARED_SETTINGS = {
  jobsTable: resource(ENV.jobsTable, name, "the name of the jobs table"),
  renderQueueUrl: resource(ENV.renderQueueUrl, queueUrl, "the URL of the render queue"),
  webhookQueueUrl: resource(ENV.webhookQueueUrl, queueUrl, "the URL of the webhook queue"),
  batchQueueUrl: resource(ENV.batchQueueUrl, queueUrl, "the URL of the batch queue"),
  outputsBucket: resource(ENV.outputsBucket, name, "the name of the outputs bucket"),
  payloadsBucket: resource(
    ENV.payloadsBucket,
    name,
    "the name of the bucket that keeps large request bodies and batch records",
  ),
  templatesBucket: resource(ENV.templatesBucket, name, "the name of the templates bucket"),
  assetsBucket: resource(ENV.assetsBucket, name, "the name of the assets bucket"),
  signerFunctionName: resource(
    ENV.signerFunctionName,
    name,
    "the name or ARN of the sign-assets function with this caller's alias, e.g. kiln-prod-sign-assets:api",
  ),
  cdnBaseUrl: resource(
    ENV.cdnBaseUrl,
    z.url({ protocol: /^https?$/ }),
    "the distribution's base URL, where signed URLs point, e.g. https://d111111abcdef8.cloudfront.net",
  ),
  // The worker asks for asset URLs this long; the signer lets the worker have them no longer.
  assetUrlTtlSeconds: setting(
    ENV.assetUrlTtlSeconds,
    z.coerce
      .number()
      .int()
      .min(SIGNED_URL_TTL_BOUNDS.min)
      .max(SIGNED_URL_TTL_BOUNDS.max)
      .default(SIGNED_URL_DEFAULT_TTL_SECONDS),
    `seconds the asset URLs minted for a render stay valid (${SIGNED_URL_TTL_BOUNDS.min}–${SIGNED_URL_TTL_BOUNDS.max})`,
  ),
  jobRetentionDays: setting(
    ENV.jobRetentionDays,
    z.coerce.number().int().min(1).max(3650).default(JOB_RETENTION_DAYS),
    "whole days (1–3650) a job, its request and its batch are kept",
  ),
  webhookSecretsKey: resource(
    ENV.webhookSecretsKeyArn,
    name,
    "the ARN of the KMS key that encrypts webhook signing secrets",
  ),
  pageSecretsKey: resource(
    ENV.pageSecretsKeyArn,
    name,
    "the ARN of the KMS key that encrypts the headers and cookies of URL jobs",
  ),
  callbackSchemes: setting(
    ENV.callbackSchemes,
    z.string().min(1).default(DEFAULT_CALLBACK_POLICY.schemes.join(",")),
    "comma-separated URL schemes a callbackUrl may use, e.g. https",
  ),
  callbackHosts: setting(
    ENV.callbackHosts,
    z.string().min(1).optional(),
    "comma-separated hosts a callbackUrl may name, or leave it unset for any public host",
  ),
} as const;
