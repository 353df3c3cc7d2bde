import { CfnOutput, type Duration, Stack, type StackProps } from "aws-cdk-lib";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { batchFanOutFunction } from "../functions/handlers/batch-fanout/function.js";
import { webhookDispatcherFunction } from "../functions/handlers/webhook-dispatcher/function.js";
import { type ConcurrencyPlan, DEFAULT_ACCOUNT_CONCURRENCY, planConcurrency } from "./concurrency.js";
import { BatchFanOut } from "./constructs/batch-fanout.js";
import { KilnBuckets } from "./constructs/buckets.js";
import { ChromiumLayer } from "./constructs/chromium-layer.js";
import { type ApiThrottle, RenderApi } from "./constructs/http-api.js";
import { JobsTable } from "./constructs/jobs-table.js";
import { Monitoring } from "./constructs/monitoring.js";
import { OutputsCdn } from "./constructs/outputs-cdn.js";
import { Reconciler } from "./constructs/reconciler.js";
import { RenderQueue } from "./constructs/render-queue.js";
import {
  RENDER_WORKER_DEFAULTS,
  RenderWorker,
  type RenderWorkerOptions,
  validateRenderWorkerOptions,
} from "./constructs/render-worker.js";
import { RequestPayloads } from "./constructs/request-payloads.js";
import { SigningKeyPair, UrlSigner } from "./constructs/url-signer.js";
import { WebhookDelivery } from "./constructs/webhooks.js";
import { type StageName, stageSettings } from "./stage.js";

export interface KilnStackProps extends StackProps {
  /** dev or prod: names, removal policies and log retention follow from it. */
  readonly stage: StageName;
  /**
   * Email address subscribed to the alarm topic.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * The account's Lambda concurrent-executions quota in the region (Service Quotas). The api and
   * signer get reserved concurrency, and the render worker's maximum concurrency is what the quota
   * leaves once the reservations, the other queue-fed functions and AWS's 100 unreserved are set
   * aside (see lib/concurrency.ts); synth fails when the quota is too small.
   * @default DEFAULT_ACCOUNT_CONCURRENCY (1000, AWS's default quota)
   */
  readonly accountConcurrency?: number;
  /**
   * @default - RenderWorker defaults (2048 MB, 60 s, batch 5), maximum concurrency derived from
   * accountConcurrency
   */
  readonly renderWorker?: RenderWorkerOptions;
  /** @default - RenderApi defaults (10 rps / 20 burst per tenant, 100 / 200 per stage, no quota) */
  readonly api?: {
    readonly tenantThrottle?: ApiThrottle;
    readonly stageThrottle?: ApiThrottle;
    readonly tenantDailyQuota?: number;
    /** @default true */
    readonly cloudWatchRole?: boolean;
  };
  /** @default - a key pair generated at deploy time */
  readonly signingKey?: {
    readonly publicKeyPem?: string;
    readonly privateKeySecret?: secretsmanager.ISecret;
    /** @default 1 */
    readonly generation?: number;
  };
  /** @default 5 minutes */
  readonly signedUrlTtl?: Duration;
  /** @default JOB_RETENTION_DAYS (30) */
  readonly outputsExpirationDays?: number;
  /**
   * Where callbackUrls may point: https to any public host unless narrowed here.
   * @default { schemes: ["https"] }
   */
  readonly callbacks?: {
    readonly schemes?: readonly string[];
    readonly hosts?: readonly string[];
  };
  /** @default - Monitoring defaults (queue age 5 min, render p95 10 s, webhook queue age 30 min, CDN 5xx 5 %) */
  readonly monitoring?: {
    readonly maxQueueAge?: Duration;
    readonly renderDurationP95Threshold?: Duration;
    readonly maxWebhookQueueAge?: Duration;
    readonly cdn5xxErrorRateThreshold?: number;
  };
}

/** The deployable Kiln stack. It only composes the constructs in lib/constructs. */
export class KilnStack extends Stack {
  public readonly buckets: KilnBuckets;
  public readonly jobs: JobsTable;
  public readonly renderQueue: RenderQueue;
  public readonly payloads: RequestPayloads;
  public readonly webhooks: WebhookDelivery;
  public readonly signingKey: SigningKeyPair;
  public readonly cdn: OutputsCdn;
  public readonly signer: UrlSigner;
  public readonly chromium: ChromiumLayer;
  public readonly worker: RenderWorker;
  public readonly api: RenderApi;
  public readonly monitoring: Monitoring;
  public readonly batches: BatchFanOut;
  public readonly reconciler: Reconciler;
  public readonly concurrency: ConcurrencyPlan;

  constructor(scope: Construct, id: string, props: KilnStackProps) {
    super(scope, id, { description: `Kiln render pipeline (${props.stage})`, ...props });
    const stage = stageSettings(props.stage);
    const p = stage.prefix;
    const lifecycle = { removalPolicy: stage.removalPolicy, logRetention: stage.logRetention };
    // Fail on bad worker options before anything is bundled.
    validateRenderWorkerOptions(props.renderWorker ?? {});
    // And on an account quota too small for Kiln's reservations.
    this.concurrency = planConcurrency({
      accountConcurrency: props.accountConcurrency ?? DEFAULT_ACCOUNT_CONCURRENCY,
      workerMaxConcurrency: props.renderWorker?.maxConcurrency,
      workerReservedConcurrency: props.renderWorker?.reservedConcurrency,
      otherEventSources: {
        "webhook dispatcher": webhookDispatcherFunction.eventSource.maxConcurrency,
        "batch fan-out": batchFanOutFunction.eventSource.maxConcurrency,
      },
    });
    const workerTimeout = props.renderWorker?.timeout ?? RENDER_WORKER_DEFAULTS.timeout;

    this.buckets = new KilnBuckets(this, "Buckets", {
      removalPolicy: stage.removalPolicy,
      autoDeleteObjects: stage.autoDeleteObjects,
      outputsExpirationDays: props.outputsExpirationDays,
    });
    this.jobs = new JobsTable(this, "Jobs", {
      tableName: `${p}-jobs`,
      removalPolicy: stage.removalPolicy,
      deletionProtection: stage.deletionProtection,
    });
    this.renderQueue = new RenderQueue(this, "RenderQueue", { queueName: `${p}-renders`, workerTimeout });
    this.payloads = new RequestPayloads(this, "Payloads", {
      accessLogsBucket: this.buckets.accessLogs,
      removalPolicy: stage.removalPolicy,
      autoDeleteObjects: stage.autoDeleteObjects,
    });
    this.webhooks = new WebhookDelivery(this, "Webhooks", {
      jobsTable: this.jobs.table,
      callbackSchemes: props.callbacks?.schemes,
      callbackHosts: props.callbacks?.hosts,
      queueName: `${p}-webhooks`,
      functionName: `${p}-webhook-dispatcher`,
      ...lifecycle,
    });

    this.signingKey = new SigningKeyPair(this, "SigningKey", {
      ...props.signingKey,
      ...lifecycle,
      namePrefix: p,
    });
    this.cdn = new OutputsCdn(this, "Cdn", {
      outputsBucket: this.buckets.outputs,
      assetsBucket: this.buckets.assets,
      keyGroup: this.signingKey.keyGroup,
      logBucket: this.buckets.accessLogs,
      comment: `Kiln ${props.stage}: outputs and assets`,
    });
    this.signer = new UrlSigner(this, "Signer", {
      keyPair: this.signingKey,
      cdnDomainName: this.cdn.domainName,
      reservedConcurrency: this.concurrency.reserved.signer,
      signedUrlTtl: props.signedUrlTtl,
      functionName: `${p}-sign-assets`,
      ...lifecycle,
    });

    this.chromium = new ChromiumLayer(this, "Chromium", {
      layerVersionName: `${p}-chromium`,
      removalPolicy: stage.removalPolicy,
    });
    this.worker = new RenderWorker(this, "RenderWorker", {
      ...props.renderWorker,
      maxConcurrency: this.concurrency.workerMaxConcurrency,
      queue: this.renderQueue,
      chromiumLayer: this.chromium.layer,
      jobsTable: this.jobs.table,
      outputsBucket: this.buckets.outputs,
      signer: this.signer,
      payloads: this.payloads,
      webhooks: this.webhooks,
      templatesBucket: this.buckets.templates,
      assetsBucket: this.buckets.assets,
      assetUrlTtl: props.signedUrlTtl,
      functionName: `${p}-render-worker`,
      ...lifecycle,
    });

    this.api = new RenderApi(this, "Api", {
      ...props.api,
      reservedConcurrency: this.concurrency.reserved.api,
      jobsTable: this.jobs.table,
      renderQueue: this.renderQueue.queue,
      signer: this.signer,
      payloads: this.payloads,
      templatesBucket: this.buckets.templates,
      assetsBucket: this.buckets.assets,
      webhookSecrets: this.webhooks,
      callbackSchemes: props.callbacks?.schemes,
      callbackHosts: props.callbacks?.hosts,
      apiName: `${p}-api`,
      functionName: `${p}-api`,
      ...lifecycle,
    });

    this.monitoring = new Monitoring(this, "Monitoring", {
      ...props.monitoring,
      alarmNamePrefix: p,
      renderWorker: this.worker.function,
      renderQueue: this.renderQueue.queue,
      deadLetterQueue: this.renderQueue.deadLetterQueue,
      api: this.api.api,
      alarmEmail: props.alarmEmail,
      topicName: `${p}-alarms`,
      dashboardName: `Kiln-${props.stage}`,
    });
    this.webhooks.alarmOnDeadLetters(this.monitoring);
    this.monitoring.alarmOnWebhookQueueAge(this.webhooks.queue);
    this.monitoring.alarmOnFunction("Api", this.api.function, "api", "The api function");
    this.monitoring.alarmOnFunction("Signer", this.signer.function, "sign-assets", "The signer");
    this.monitoring.alarmOnFunction(
      "WebhookDispatcher",
      this.webhooks.function,
      "webhook-dispatcher",
      "The webhook dispatcher",
    );
    this.monitoring.alarmOnTableThrottles(this.jobs.table, this.jobs.indexNames);
    this.monitoring.alarmOnCdn5xxRate(this.cdn.distribution);

    this.batches = new BatchFanOut(this, "Batches", {
      jobsTable: this.jobs.table,
      renderQueue: this.renderQueue.queue,
      payloads: this.payloads,
      outputsBucket: this.buckets.outputs,
      queueName: `${p}-batches`,
      functionName: `${p}-batch-fanout`,
      ...lifecycle,
    });
    this.batches.connectApi(this.api.function, this.buckets.assets);
    this.batches.alarmOnDeadLetters(this.monitoring);

    this.reconciler = new Reconciler(this, "Reconciler", {
      jobsTable: this.jobs.table,
      renderQueue: this.renderQueue.queue,
      maxReceiveCount: this.renderQueue.maxReceiveCount,
      visibilityTimeout: this.renderQueue.visibilityTimeout,
      workerTimeout,
      webhookQueue: this.webhooks.queue,
      functionName: `${p}-reconciler`,
      ...lifecycle,
    });
    this.reconciler.alarmWhenActing(this.monitoring);
    this.monitoring.alarmOnFunction(
      "BatchFanOut",
      this.batches.function,
      "batch-fanout",
      "The batch fan-out",
    );
    this.monitoring.alarmOnFunction("Reconciler", this.reconciler.function, "reconciler", "The reconciler");

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output("ApiUrl", this.api.url, "Base URL of the render API (append v1/renders)");
    output("UsagePlanId", this.api.usagePlan.usagePlanId, "Usage plan to associate tenant API keys with");
    output(
      "DistributionDomainName",
      this.cdn.domainName,
      "CloudFront domain serving signed outputs and assets",
    );
    output("RenderQueueUrl", this.renderQueue.queue.queueUrl, "Render queue");
    output("DeadLetterQueueUrl", this.renderQueue.deadLetterQueue.queueUrl, "Render dead-letter queue");
    output("DeadLetterQueueArn", this.renderQueue.deadLetterQueue.queueArn, "Source ARN for a redrive");
    output("RenderQueueArn", this.renderQueue.queue.queueArn, "Destination ARN for a redrive");
    output("WebhookQueueUrl", this.webhooks.queue.queueUrl, "Webhook deliveries and their retries");
    output(
      "WebhookDeadLetterQueueUrl",
      this.webhooks.deadLetterQueue.queueUrl,
      "Webhook dead-letter queue (kiln redrive --dlq … --to WebhookQueueUrl)",
    );
    output("BatchQueueUrl", this.batches.queue.queueUrl, "Batch fan-out chunks and completion checks");
    output(
      "BatchDeadLetterQueueUrl",
      this.batches.deadLetterQueue.queueUrl,
      "Batch fan-out dead-letter queue (kiln redrive --dlq … --to BatchQueueUrl)",
    );
    output("PayloadsBucketName", this.payloads.bucket.bucketName, "Large request bodies, by job");
    output("JobsTableName", this.jobs.table.tableName, "Jobs and API-key table");
    output("OutputsBucketName", this.buckets.outputs.bucketName, "Rendered outputs");
    output("TemplatesBucketName", this.buckets.templates.bucketName, "Versioned templates");
    output("AssetsBucketName", this.buckets.assets.bucketName, "Tenant assets (assets/<tenant>/...)");
    output("AlarmTopicArn", this.monitoring.topic.topicArn, "SNS topic the alarms notify");
  }
}
