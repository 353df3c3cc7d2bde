/**
 * Definitions shared by the CDK app and the local stack, so that the deployed resources and their
 * local stand-ins come from one place.
 */

/** Single-table layout: every item is addressed by a tenant-scoped partition key and a sort key. */
export const JOBS_TABLE = {
  partitionKey: { name: "pk", type: "S" },
  sortKey: { name: "sk", type: "S" },
  /** Epoch seconds; DynamoDB deletes expired items lazily, so reads also filter on it. */
  timeToLiveAttribute: "expiresAtEpoch",
} as const;

/**
 * Sparse index of the jobs that belong to a batch, by position: only batch jobs carry its keys. It
 * projects what a batch's counts and manifest need, so reading a batch never reads the requests.
 */
export const BATCH_JOBS_INDEX = {
  indexName: "batch-jobs",
  partitionKey: { name: "batchPk", type: "S" },
  sortKey: { name: "batchIndex", type: "N" },
  projectedAttributes: ["id", "status", "output", "error"],
} as const;

/**
 * Sparse index of the unfinished jobs, by their last state change: a job item carries `openShard`
 * from its creation until it succeeds or fails, so the reconciler queries the jobs idle past a
 * deadline instead of scanning the table. The partition is one of `shards`, by the job's key, so that
 * the service's writes are spread over as many index partitions. Keys only: the index changes only
 * when `updatedAt` does (a state change), never on a lease renewal.
 */
export const OPEN_JOBS_INDEX = {
  indexName: "open-jobs",
  partitionKey: { name: "openShard", type: "S" },
  sortKey: { name: "updatedAt", type: "S" },
  shards: 16,
} as const;

/** Fan-out of batches into render jobs: a queue of its own, with a dead-letter queue. */
export const BATCH_QUEUE = {
  maxReceiveCount: 5,
  retentionSeconds: 4 * 24 * 3600,
  /** The fan-out function's timeout (it also writes a batch's zip); SQS needs six times it. */
  functionTimeoutSeconds: 300,
  visibilityTimeoutSeconds: 6 * 300,
} as const;

export const RENDER_QUEUE = {
  /**
   * Receives before SQS moves a message to the dead-letter queue: three render attempts and one more
   * receive that only settles the job as failed, so a worker that dies during the last attempt still
   * leaves a terminal job behind.
   */
  maxReceiveCount: 4,
  /** SQS keeps undelivered messages this long (14 days, the maximum). */
  retentionSeconds: 14 * 24 * 3600,
  /** Lambda recommends a visibility timeout of at least six times the function timeout. */
  visibilityTimeoutFactor: 6,
} as const;

/**
 * The reconciler (functions/core/reconcile.ts) runs on this schedule. Each run queries the open-jobs
 * index, and its deadlines are tens of minutes, so a few minutes between runs add little to how long
 * a stuck job stays unfinished.
 */
export const RECONCILER_SCHEDULE = {
  everyMinutes: 10,
} as const;

/** Delivery of signed job-completion webhooks: a queue of its own, retried through SQS delays. */
export const WEBHOOK_QUEUE = {
  /** Receives before a delivery message that keeps failing unexpectedly is dead-lettered. */
  maxReceiveCount: 5,
  retentionSeconds: 4 * 24 * 3600,
  /** The dispatcher's function timeout is a few seconds; SQS needs six times it. */
  visibilityTimeoutSeconds: 120,
  /** SQS caps a message's delay at 15 minutes; longer waits hop through several delays. */
  maxDelaySeconds: 900,
} as const;

/**
 * The encryption context key webhook secrets are encrypted under (`{ tenant: "<tenant>" }`); the KMS
 * key's grants require it.
 */
export const WEBHOOK_SECRET_CONTEXT_KEY = "tenant";

/**
 * The encryption context key the headers and cookies of URL jobs are encrypted under
 * (`{ pageSecretsTenant: "<tenant>" }`), with a key of their own that only the render worker may
 * decrypt with; the grants of both roles that use it require exactly this context key.
 */
export const PAGE_SECRETS_CONTEXT_KEY = "pageSecretsTenant";

/** Most a rotated-out webhook secret may keep signing: a week is time enough to give every receiver the new one. */
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600;

/** Requests too large to sit comfortably in a DynamoDB item (max 400 KB) go to S3 by reference. */
export const PAYLOADS = {
  keyPrefix: "requests/",
} as const;

/** Idempotency-Key records answer a retried POST with the job it created, for this long. */
export const IDEMPOTENCY = {
  ttlSeconds: 24 * 3600,
} as const;

export const OUTPUTS = {
  keyPrefix: "outputs/",
  /** Outputs are content-addressed: the bytes behind a key never change. */
  cacheControl: "public, max-age=31536000, immutable",
} as const;

export const SIGNED_URL_DEFAULT_TTL_SECONDS = 300;

/** Renders one Chromium serves before the worker recycles it (a leak's ceiling, not a routine cost). */
export const RENDERS_PER_BROWSER = 500;

/**
 * Job records (and their requests and batches) are kept this long before TTL expiry, unless the stack
 * sets another retention (`--context jobRetentionDays`, KILN_JOB_RETENTION_DAYS).
 */
export const JOB_RETENTION_DAYS = 30;

/** Environment variables the Lambda entry points read; the CDK app sets exactly these. */
export const ENV = {
  jobsTable: "KILN_JOBS_TABLE",
  renderQueueUrl: "KILN_RENDER_QUEUE_URL",
  outputsBucket: "KILN_OUTPUTS_BUCKET",
  signerFunctionName: "KILN_SIGNER_FUNCTION_NAME",
  cdnBaseUrl: "KILN_CDN_BASE_URL",
  keyPairId: "KILN_CLOUDFRONT_KEY_PAIR_ID",
  signingKeySecretArn: "KILN_SIGNING_KEY_SECRET_ARN",
  signingPublicKey: "KILN_SIGNING_PUBLIC_KEY",
  signedUrlTtlSeconds: "KILN_SIGNED_URL_TTL_SECONDS",
  maxReceiveCount: "KILN_MAX_RECEIVE_COUNT",
  rendersPerBrowser: "KILN_RENDERS_PER_BROWSER",
  payloadsBucket: "KILN_PAYLOADS_BUCKET",
  webhookQueueUrl: "KILN_WEBHOOK_QUEUE_URL",
  /** Comma-separated URL schemes a callbackUrl may use (default https). */
  callbackSchemes: "KILN_CALLBACK_SCHEMES",
  /** Comma-separated hosts a callbackUrl may name; unset: any public host. */
  callbackHosts: "KILN_CALLBACK_HOSTS",
  /** Seconds a worker keeps a message hidden (and renews it) while it renders. */
  visibilityHoldSeconds: "KILN_VISIBILITY_HOLD_SECONDS",
  /** Seconds before the first redelivery of a transient failure; doubles per receive, with jitter. */
  retryBaseSeconds: "KILN_RETRY_BASE_SECONDS",
  /** The longest wait before a redelivery, however many receives. */
  retryMaxSeconds: "KILN_RETRY_MAX_SECONDS",
  /** Records of one batch the worker renders at once; unset: one per vCPU. */
  renderConcurrency: "KILN_RENDER_CONCURRENCY",
  /** How long the dispatcher waits for a webhook receiver's answer. */
  webhookTimeoutMs: "KILN_WEBHOOK_TIMEOUT_MS",
  /** Deliveries of one batch the dispatcher makes at once. */
  webhookConcurrency: "KILN_WEBHOOK_CONCURRENCY",
  /** Seconds between completion checks of a running batch. */
  batchCheckEverySeconds: "KILN_BATCH_CHECK_EVERY_SECONDS",
  /** Bucket of template HTML (content-addressed, versioned by the jobs table). */
  templatesBucket: "KILN_TEMPLATES_BUCKET",
  /** Bucket of tenant assets (`assets/<tenant>/…`), served through the CDN. */
  assetsBucket: "KILN_ASSETS_BUCKET",
  /** Lifetime of the asset URLs minted for a render (30–3600 s, default 300). */
  assetUrlTtlSeconds: "KILN_ASSET_URL_TTL_SECONDS",
  /** Seconds after its last state change that an unfinished job is past every delivery of its message. */
  reconcileStuckAfterSeconds: "KILN_RECONCILE_STUCK_AFTER_SECONDS",
  /** Seconds after its message's final delivery that an unfinished job is stuck. */
  reconcileFinalDeliveryGraceSeconds: "KILN_RECONCILE_FINAL_DELIVERY_GRACE_SECONDS",
  /** Queue of batch fan-out chunks and completion checks. */
  batchQueueUrl: "KILN_BATCH_QUEUE_URL",
  /** Days a job, its request and its batch are kept (the items' TTL). */
  jobRetentionDays: "KILN_JOB_RETENTION_DAYS",
  /** The KMS key that encrypts webhook signing secrets (the api function and the dispatcher only). */
  webhookSecretsKeyArn: "KILN_WEBHOOK_SECRETS_KEY_ARN",
  /** The KMS key that encrypts the headers and cookies of URL jobs (the api encrypts, the worker decrypts). */
  pageSecretsKeyArn: "KILN_PAGE_SECRETS_KEY_ARN",
  /** Seconds a rotated-out webhook secret still signs deliveries. */
  webhookSecretOverlapSeconds: "KILN_WEBHOOK_SECRET_OVERLAP_SECONDS",
} as const;
