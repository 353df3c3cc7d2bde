import { CfnOutput, type Duration, Stack, type StackProps } from "aws-cdk-lib";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import type { Tiers } from "../functions/core/tenants.js";
import { batchFanOutFunction } from "../functions/handlers/batch-fanout/function.js";
import { webhookDispatcherFunction } from "../functions/handlers/webhook-dispatcher/function.js";
import { type ConcurrencyPlan, DEFAULT_ACCOUNT_CONCURRENCY, planConcurrency } from "./concurrency.js";
import { ApiEdge } from "./constructs/api-edge.js";
import { BatchFanOut } from "./constructs/batch-fanout.js";
import { KilnBuckets } from "./constructs/buckets.js";
import { ChromiumLayer } from "./constructs/chromium-layer.js";
import { KilnEncryptionKey } from "./constructs/encryption-key.js";
import { type ApiThrottle, RenderApi } from "./constructs/http-api.js";
import { JobsTable } from "./constructs/jobs-table.js";
import { Monitoring } from "./constructs/monitoring.js";
import { KilnNetwork } from "./constructs/network.js";
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
import { placeFunctions } from "./constructs/service-function.js";
import { tagStack } from "./constructs/tagging.js";
import { SigningKeyPair, UrlSigner } from "./constructs/url-signer.js";
import { WebhookDelivery } from "./constructs/webhooks.js";
import type { StackOptions } from "./stack-options.js";
import { type StageName, stageSettings } from "./stage.js";

/** Stack options (lib/stack-options.ts): `tags` are also the stack's own tags. */
export interface KilnStackProps extends StackProps, StackOptions {
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
    /** Usage plans by tier; see RenderApiProps.tiers. @default one "standard" tier */
    readonly tiers?: Tiers;
    /** @default true */
    readonly cloudWatchRole?: boolean;
  };
  /** @default - a key pair generated at deploy time */
  readonly signingKey?: {
    readonly publicKeyPem?: string;
    readonly privateKeySecret?: secretsmanager.ISecret;
    /** @default 1 */
    readonly generation?: number;
    /** How long a rotated-out public key stays in the key group. @default Duration.hours(2) */
    readonly rotationOverlap?: Duration;
  };
  /** @default 5 minutes */
  readonly signedUrlTtl?: Duration;
  /** @default jobRetentionDays */
  readonly outputsExpirationDays?: number;
  /**
   * Retention of what tenants store. Outputs and request bodies are kept at least as long as jobs.
   * @default - today's: jobs, requests and outputs 30 days; templates and assets kept
   */
  readonly retention?: {
    /** Days a job, its request and its batch are kept (DynamoDB TTL). @default JOB_RETENTION_DAYS (30) */
    readonly jobsDays?: number;
    /** Days large request bodies and batch records are kept. @default jobsDays */
    readonly payloadsDays?: number;
    /** Days old S3 versions of template objects are kept. @default - kept */
    readonly templateObjectVersionsDays?: number;
    /** Days tenant assets are kept after upload. @default - kept */
    readonly assetsDays?: number;
  };
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
  public readonly encryptionKey?: KilnEncryptionKey;
  public readonly network?: KilnNetwork;
  public readonly apiEdge: ApiEdge;

  constructor(scope: Construct, id: string, props: KilnStackProps) {
    super(scope, id, {
      description: `Kiln render pipeline (${props.stage})`,
      ...props,
      // Stack tags, which CloudFormation also propagates at deploy; tagStack writes them into the template.
      tags: { "kiln:stage": props.stage, ...props.tags },
    });
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

    tagStack(this, this.tags.tagValues());
    const keyOption = props.encryptionKey;
    this.encryptionKey =
      keyOption &&
      new KilnEncryptionKey(this, "EncryptionKey", {
        keyArn: "keyArn" in keyOption ? keyOption.keyArn : undefined,
        removalPolicy: stage.removalPolicy,
        aliasName: p,
      });
    const key = this.encryptionKey?.key;
    this.network =
      props.network &&
      new KilnNetwork(this, "Network", {
        vpcId: "vpcId" in props.network ? props.network.vpcId : undefined,
        encryptionKey: key,
        ...lifecycle,
      });
    // Every function below runs in the network and writes to key-encrypted logs.
    placeFunctions(this, { logsKey: key, network: this.network });

    this.buckets = new KilnBuckets(this, "Buckets", {
      removalPolicy: stage.removalPolicy,
      autoDeleteObjects: stage.autoDeleteObjects,
      outputsExpirationDays: props.outputsExpirationDays,
      encryptionKey: key,
      jobRetentionDays: props.retention?.jobsDays,
      templateVersionRetentionDays: props.retention?.templateObjectVersionsDays,
      assetsExpirationDays: props.retention?.assetsDays,
    });
    this.jobs = new JobsTable(this, "Jobs", {
      tableName: `${p}-jobs`,
      removalPolicy: stage.removalPolicy,
      deletionProtection: stage.deletionProtection,
      encryptionKey: key,
    });
    this.renderQueue = new RenderQueue(this, "RenderQueue", {
      queueName: `${p}-renders`,
      workerTimeout,
      encryptionKey: key,
    });
    this.payloads = new RequestPayloads(this, "Payloads", {
      accessLogsBucket: this.buckets.accessLogs,
      expirationDays: props.retention?.payloadsDays,
      jobRetentionDays: props.retention?.jobsDays,
      removalPolicy: stage.removalPolicy,
      autoDeleteObjects: stage.autoDeleteObjects,
      encryptionKey: key,
    });
    this.webhooks = new WebhookDelivery(this, "Webhooks", {
      jobsTable: this.jobs.table,
      callbackSchemes: props.callbacks?.schemes,
      callbackHosts: props.callbacks?.hosts,
      queueName: `${p}-webhooks`,
      functionName: `${p}-webhook-dispatcher`,
      encryptionKey: key,
      ...lifecycle,
    });

    this.signingKey = new SigningKeyPair(this, "SigningKey", {
      ...props.signingKey,
      ...lifecycle,
      namePrefix: p,
      encryptionKey: key,
    });
    this.cdn = new OutputsCdn(this, "Cdn", {
      outputsBucket: this.buckets.outputs,
      assetsBucket: this.buckets.assets,
      keyGroup: this.signingKey.keyGroup,
      logBucket: this.buckets.accessLogs,
      comment: `Kiln ${props.stage}: outputs and assets`,
      customDomain: props.cdnDomain && {
        domainName: props.cdnDomain.domainName,
        certificate: acm.Certificate.fromCertificateArn(
          this,
          "CdnCertificate",
          props.cdnDomain.certificateArn,
        ),
      },
      webAclArn: props.cdnWebAclArn,
    });
    this.signer = new UrlSigner(this, "Signer", {
      keyPair: this.signingKey,
      cdnDomainName: this.cdn.domainName,
      reservedConcurrency: this.concurrency.reserved.signer,
      signedUrlTtl: props.signedUrlTtl,
      assetUrlTtl: props.signedUrlTtl,
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
      jobRetentionDays: props.retention?.jobsDays,
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
      webhookQueue: this.webhooks.queue,
      pageSecretsKey: this.worker.pageSecretsKey,
      callbackSchemes: props.callbacks?.schemes,
      callbackHosts: props.callbacks?.hosts,
      jobRetentionDays: props.retention?.jobsDays,
      apiName: `${p}-api`,
      functionName: `${p}-api`,
      logsKey: key,
      ...lifecycle,
    });
    this.apiEdge = new ApiEdge(this, "ApiEdge", {
      api: this.api.api,
      customDomain: props.apiDomain,
      webAclArn: props.apiWebAclArn,
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
      encryptionKey: key,
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
      jobRetentionDays: props.retention?.jobsDays,
      queueName: `${p}-batches`,
      functionName: `${p}-batch-fanout`,
      encryptionKey: key,
      ...lifecycle,
    });
    this.batches.connectApi(this.api.function, this.api.role);
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
    output("UsagePlanId", this.api.usagePlan.usagePlanId, "Usage plan of the default tier");
    output(
      "UsagePlanIds",
      this.toJsonString(
        Object.fromEntries(
          Object.entries(this.api.usagePlans).map(([tier, plan]) => [tier, plan.usagePlanId]),
        ),
      ),
      "Usage plan id by tier (JSON), for kiln tenants",
    );
    output(
      "DistributionDomainName",
      this.cdn.distributionDomainName,
      "CloudFront domain serving signed outputs and assets (the alias target of cdnDomainName)",
    );
    if (props.cdnDomain) output("CdnDomainName", this.cdn.domainName, "The domain signed URLs name");
    if (this.apiEdge.domainTarget) {
      output("ApiDomainTarget", this.apiEdge.domainTarget, "Alias or CNAME target of apiDomainName");
    }
    if (key) output("EncryptionKeyArn", key.keyArn, "KMS key of Kiln's stores");
    if (this.network) output("VpcId", this.network.vpc.vpcId, "VPC the functions run in");
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
