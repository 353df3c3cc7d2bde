import { randomUUID } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDbApiKeyStore } from "../adapters/aws/dynamodb-api-key-store.js";
import { DynamoDbTenantRegistry } from "../adapters/aws/tenant-admin.js";
import type { BrowserPool } from "../adapters/chromium/browser-pool.js";
import { ChromiumRenderer } from "../adapters/chromium/chromium-renderer.js";
import type { EgressGuardOptions } from "../adapters/chromium/egress-guard.js";
import type { PinnedWebhookSenderOptions } from "../adapters/http/pinned-webhook-sender.js";
import { InProcessRateLimiter, type TenantLimitLookup } from "../adapters/memory/rate-limiter.js";
import { generateApiKey, parseApiKeyList } from "../core/api-keys.js";
import { ASSETS } from "../core/assets.js";
import { OUTPUTS, RENDER_QUEUE } from "../core/constants.js";
import { SERVICES } from "../core/observability.js";
import { type Clock, type Logger, type Renderer, systemClock } from "../core/ports.js";
import type { RateLimit } from "../core/rate-limit.js";
import type { ReconcileSummary } from "../core/reconcile.js";
import { longestUrlLifetimeSeconds, SIGNING_CALLERS } from "../core/signing-policy.js";
import { DEFAULT_TIERS, rateLimitOf, type Tiers } from "../core/tenants.js";
import type { WebhookRetrySchedule } from "../core/webhooks.js";
import { wireApi } from "../handlers/api/wire.js";
import { batchFanOutFunction } from "../handlers/batch-fanout/function.js";
import { wireBatchFanOut } from "../handlers/batch-fanout/wire.js";
import type { FunctionDefinition } from "../handlers/function-definition.js";
import type { AwsCall } from "../handlers/permissions.js";
import { wireReconciler } from "../handlers/reconciler/wire.js";
import { renderWorkerFunction } from "../handlers/render-worker/function.js";
import { renderWorkerBrowsers, wireRenderWorker } from "../handlers/render-worker/wire.js";
import { callerTtlsOf, wireSignAssets } from "../handlers/sign-assets/wire.js";
import { webhookDispatcherFunction } from "../handlers/webhook-dispatcher/function.js";
import { wireWebhookDispatcher } from "../handlers/webhook-dispatcher/wire.js";
import { startLocalApiGateway } from "./api-gateway-server.js";
import { recordAwsCalls } from "./aws-calls.js";
import { type LocalEndpoints, localClientConfig } from "./aws-clients.js";
import { type EdgeRequest, startLocalEdge } from "./edge.js";
import { startEventSourceLoop } from "./event-source-loop.js";
import {
  type FaultCounts,
  FaultInjectingRenderer,
  FaultInjector,
  type LocalFaults,
  withKillBeforeDelete,
  withStoreCallFaults,
  withStoreFaults,
  workerStoreCallHook,
} from "./fault-injection.js";
import {
  LOCAL_OVERRIDES,
  type LocalFunctionConfigs,
  type LocalTuning,
  localFunctionConfigs,
} from "./function-configs.js";
import { healthzRoute, localHealthChecks } from "./healthz.js";
import { loadOrCreateKmsKey, startKmsStandIn } from "./kms-stand-in.js";
import { LocalLambdaEnvironment } from "./lambda-environment.js";
import { startLambdaInvokeServer } from "./lambda-invoke-server.js";
import { MetricsSummary } from "./metrics-summary.js";
import { PREVIEW_PATHS, previewRoutes } from "./preview/preview-routes.js";
import {
  ensureBatchQueues,
  ensureBucket,
  ensureJobsTable,
  ensureRenderQueues,
  ensureWebhookQueues,
  LOCAL_ENDPOINTS_FILE,
  LOCAL_NAMES,
  type RenderQueues,
} from "./resources.js";
import { startSecretsManagerStandIn } from "./secrets-manager-stand-in.js";
import { loadOrCreateSigningKeys, rotateSigningKeys } from "./signing-keys.js";
import { forStandIns, startDynamoDbStandIn, startSqsS3StandIn } from "./stand-ins.js";
import { startThrottlingProxy } from "./throttling-proxy.js";

/** `LocalTuning` (function-configs.ts): the function settings a caller may set apart from a deployment. */
export interface LocalStackOptions extends LocalTuning {
  /** Everything the stack keeps between runs: queues, objects, tables, keys. */
  readonly dataDir: string;
  /** 0 picks a free port. The stand-ins always take free ports. */
  readonly apiPort: number;
  /** The edge's port is part of every signed URL, so a fixed one keeps URLs valid across restarts. 0 picks a free port. */
  readonly edgePort?: number;
  /** `tenantA=keyA,tenantB=keyB`; when absent a key for tenant `local` is generated and kept. */
  readonly apiKeys?: string | undefined;
  /** How long a received message stays hidden; a worker that dies mid-render is retried after it. */
  readonly visibilityTimeoutSeconds?: number;
  /** Concurrent pollers feeding the worker (the mapping's maximum concurrency). */
  readonly workerConcurrency?: number;
  readonly batchSize?: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** @default DEFAULT_WEBHOOK_SCHEDULE (5 s … 10 h within 24 h) */
  readonly webhookSchedule?: WebhookRetrySchedule;
  /**
   * Requests per second and burst allowed per tenant, as API Gateway's usage plan does in AWS.
   * @default - no limit: the local stack serves one developer, the load test and the fault test
   */
  readonly rateLimit?: RateLimit;
  /**
   * Tiers (`kiln tenants create --tier`): with rateLimit set, a tenant whose tier is stored is limited
   * by its tier instead. @default DEFAULT_TIERS
   */
  readonly tiers?: Tiers;
  /** Test-only: hears every request the local CloudFront edge answers. */
  readonly onEdgeRequest?: (request: EdgeRequest) => void;
  /**
   * Test-only: how the render worker's egress guard resolves host names and reaches the checked
   * address, so that tests can give public-looking hosts to servers on 127.0.0.1.
   */
  readonly egress?: Pick<EgressGuardOptions, "resolve" | "connect">;
  /**
   * Host names URL jobs reach on this machine (KILN_LOCAL_HOSTS, local-hosts.ts), once a tenant
   * allowlists them. @default none
   */
  readonly localHosts?: EgressGuardOptions["localHosts"];
  /**
   * Test-only: how the webhook dispatcher resolves callback hosts, so that tests can give names to
   * receivers on 127.0.0.1.
   */
  readonly webhookEgress?: Pick<PinnedWebhookSenderOptions, "resolve">;
  /**
   * Seconds between the reconciler's runs (EventBridge runs it every RECONCILER_SCHEDULE.everyMinutes
   * on AWS). @default LOCAL_OVERRIDES.reconcileEverySeconds
   */
  readonly reconcileEverySeconds?: number;
  /**
   * Test-only: hears every AWS SDK command each function sends (aws-calls.ts); each function then has
   * clients of its own, as on Lambda. @default - the functions share one client per service
   */
  readonly onAwsCall?: (call: AwsCall) => void;
  /** Test-only: faults injected into the worker and the stores (see fault-injection.ts). */
  readonly faults?: LocalFaults;
  /**
   * Stand-ins already running elsewhere (another process, as `kiln bench --soak` does so that the
   * worker's memory is measured without the stand-ins' data). @default - started in this process
   */
  readonly standIns?: Pick<LocalEndpoints, "sqsS3" | "dynamodb">;
}

export interface LocalStack {
  readonly apiUrl: string;
  /** The preview page (local only): edit data, see it rendered through the API. */
  readonly previewUrl: string;
  readonly edgeUrl: string;
  readonly endpoints: LocalEndpoints;
  readonly names: typeof LOCAL_NAMES;
  readonly queues: RenderQueues;
  readonly webhookQueues: RenderQueues;
  /** Batch fan-out chunks and completion checks. */
  readonly batchQueues: RenderQueues;
  /** Faults injected so far, when random faults are on. */
  readonly faultCounts?: Readonly<FaultCounts>;
  /** The keys this stack accepts, by tenant. */
  readonly apiKeys: ReadonlyArray<{ tenant: string; apiKey: string }>;
  /** Whether the default key was generated by this start. */
  readonly generatedApiKey: boolean;
  /** The configuration each function runs with, and which settings this stack set apart from a deployment. */
  readonly functions: LocalFunctionConfigs;
  /**
   * Runs the reconciler now, as its timer does (runs never overlap), and answers what it did: how tests
   * drive it without waiting for the timer.
   */
  reconcile(): Promise<ReconcileSummary>;
  /** The worker's browser pool, for `kiln bench`: its counters and Chromium's pid. */
  readonly browsers: Pick<BrowserPool, "stats" | "browserProcessId">;
  /**
   * Rotates the URL-signing key as a deployment with a bumped `signingKey.generation` does: the signer
   * signs with a new key from now on, and the edge trusts the replaced key for `overlapSeconds` more
   * (by the stack's clock), then drops it. The keys live in the data dir, so a restart keeps both.
   */
  rotateSigningKey(options?: { readonly overlapSeconds?: number }): Promise<SigningKeyRotation>;
  stop(): Promise<void>;
}

export interface SigningKeyRotation {
  readonly keyPairId: string;
  readonly previousKeyPairId: string;
  /** When the edge stops trusting the previous key. */
  readonly previousRetiresAt: Date;
}

const DEFAULTS = { visibilityTimeoutSeconds: 60 };

/**
 * Event-source concurrency here, against the definitions' maxConcurrency on AWS: this machine is one
 * developer's, with a core or two.
 */
const LOCAL_CONCURRENCY = { renderWorker: 2, webhookDispatcher: 1, batchFanOut: 1 } as const;

/** Adapters of the stores (DynamoDB, S3, SQS) take injected store faults; the signer's invoke does not. */
const STORE_ADAPTER = /^(dynamodb|s3|sqs)\./;

/**
 * The local composition root: the same handlers as in Lambda, wired to stand-ins that speak the AWS
 * protocols, so the real SDK clients run unchanged. Every server binds 127.0.0.1.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { dataDir, logger } = options;
  const clock = options.clock ?? systemClock;
  const maxReceiveCount = options.maxReceiveCount ?? RENDER_QUEUE.maxReceiveCount;
  await mkdir(dataDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };

  try {
    let keys = await loadOrCreateSigningKeys(dataDir, clock.now());
    const { sqsS3, dynamo } = options.standIns
      ? { sqsS3: { endpoint: options.standIns.sqsS3 }, dynamo: { endpoint: options.standIns.dynamodb } }
      : await startStandIns(dataDir, stops);

    const sqs = new SQSClient(localClientConfig(sqsS3.endpoint));
    const s3 = new S3Client(localClientConfig(sqsS3.endpoint));
    const dynamodb = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    await ensureJobsTable(dynamodb, LOCAL_NAMES.jobsTable, dataDir);
    await ensureBucket(s3, LOCAL_NAMES.outputsBucket);
    await ensureBucket(s3, LOCAL_NAMES.payloadsBucket);
    await ensureBucket(s3, LOCAL_NAMES.templatesBucket);
    await ensureBucket(s3, LOCAL_NAMES.assetsBucket);
    const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? DEFAULTS.visibilityTimeoutSeconds;
    const queues = await ensureRenderQueues(sqs, { visibilityTimeoutSeconds, maxReceiveCount });
    const webhookQueues = await ensureWebhookQueues(sqs, { visibilityTimeoutSeconds });
    const batchQueues = await ensureBatchQueues(sqs, { visibilityTimeoutSeconds });

    const apiKeyStore = new DynamoDbApiKeyStore(dynamodb, LOCAL_NAMES.jobsTable);
    const registry = new DynamoDbTenantRegistry(dynamodb, LOCAL_NAMES.jobsTable);
    // A tenant's stored tier, as its key's usage plan on AWS: the limit of that tier, if it is one.
    const tierLimits =
      (tiers: Tiers = DEFAULT_TIERS): TenantLimitLookup =>
      async (tenant) => {
        const tier = (await registry.get(tenant))?.tier;
        const spec = tier === undefined ? undefined : tiers[tier];
        return spec ? rateLimitOf(spec) : undefined;
      };
    const { apiKeys, generated } = await resolveApiKeys(dataDir, options.apiKeys);
    for (const { tenant, apiKey } of apiKeys) await apiKeyStore.register(tenant, apiKey);

    const edge = await startLocalEdge({
      port: options.edgePort ?? 0,
      routes: [
        { pathPrefix: OUTPUTS.keyPrefix, bucket: LOCAL_NAMES.outputsBucket },
        { pathPrefix: ASSETS.keyPrefix, bucket: LOCAL_NAMES.assetsBucket },
      ],
      ...(options.onEdgeRequest ? { onRequest: options.onEdgeRequest } : {}),
      s3,
      trustedKeys: () => keys.keyGroup,
      clock,
    });
    stops.push(edge.stop);

    // Each function's configuration comes from its definition, as on Lambda (function-configs.ts).
    const configs = localFunctionConfigs(
      {
        renderQueueUrl: queues.queueUrl,
        webhookQueueUrl: webhookQueues.queueUrl,
        batchQueueUrl: batchQueues.queueUrl,
        cdnBaseUrl: edge.url,
        keyPairId: keys.keyPairId,
        signingPublicKeyPem: keys.publicKeyPem,
      },
      // A worker's hold follows the queue's visibility timeout unless a test sets both apart.
      { ...options, holdSeconds: options.holdSeconds ?? options.visibilityTimeoutSeconds },
    );
    // Lines name their function as on Lambda (function_name), though one logger serves them all here.
    const loggerOf = (service: string) => logger.child({ function_name: service });
    const metrics = new MetricsSummary(logger);
    stops.push(async () => metrics.flush());
    // Store faults wrap the stores' adapters, below every handler, as a flaky AWS would look to them.
    const injector = options.faults?.random ? new FaultInjector(options.faults.random) : undefined;
    const withFaults = <T extends object>(adapter: T, name: string): T =>
      injector && injector.spec.store > 0 && STORE_ADAPTER.test(name)
        ? withStoreFaults(forStandIns(adapter, name), name, injector)
        : forStandIns(adapter, name);

    // The signer reads its key from Secrets Manager, as on Lambda: here a stand-in serving the data dir's key.
    const secrets = new Map([[LOCAL_NAMES.signingKeySecret, keys.privateKeyPem]]);
    const previousSecrets = new Map<string, string>();
    const secretsManager = await startSecretsManagerStandIn(secrets, previousSecrets);
    stops.push(secretsManager.stop);
    const recorded = <C extends object>(client: C, fn: string, service: string): C =>
      options.onAwsCall
        ? recordAwsCalls(client, { function: fn, service, onCall: options.onAwsCall })
        : client;
    const secretsManagerClient = recorded(
      new SecretsManagerClient(localClientConfig(secretsManager.endpoint)),
      SERVICES.signAssets,
      "secretsmanager",
    );
    // Wired anew on a rotation, as a deployment gives the signer a new key id and a cold start.
    const wireSigner = () =>
      wireSignAssets(
        { secretsManager: secretsManagerClient },
        { ...configs.signAssets.config, keyPairId: keys.keyPairId, signingPublicKeyPem: keys.publicKeyPem },
        { logger: loggerOf(SERVICES.signAssets), clock },
      );
    let signAssets = wireSigner();
    const lambdaInvoke = await startLambdaInvokeServer({
      port: 0,
      functions: { [LOCAL_NAMES.signerFunction]: (event, context) => signAssets(event, context) },
      aliases: { [LOCAL_NAMES.signerFunction]: SIGNING_CALLERS },
    });
    stops.push(lambdaInvoke.stop);
    // Throttling faults answer the functions' DynamoDB and S3 requests on the wire; the stack's own
    // set-up above goes direct.
    const throttled = await throttledEndpoints(
      injector,
      { dynamodb: dynamo.endpoint, s3: sqsS3.endpoint },
      stops,
    );
    const functionEndpoints = {
      dynamodb: throttled?.dynamodb ?? dynamo.endpoint,
      s3: throttled?.s3 ?? sqsS3.endpoint,
    };
    // Webhook secrets and URL jobs' headers and cookies are encrypted with KMS keys, as on AWS: here a
    // stand-in with the data dir's keys. The worker's grants decrypt only page secrets, as on AWS.
    const kmsStandIn = await startKmsStandIn(
      new Map([
        [LOCAL_NAMES.webhookSecretsKey, await loadOrCreateKmsKey(dataDir, "webhook-secrets")],
        [LOCAL_NAMES.pageSecretsKey, await loadOrCreateKmsKey(dataDir, "page-secrets")],
      ]),
    );
    stops.push(kmsStandIn.stop);
    // One client per service for every function: they share this process (unless calls are recorded).
    const shared = {
      dynamodb: throttled ? new DynamoDBClient(localClientConfig(functionEndpoints.dynamodb)) : dynamodb,
      s3: throttled ? new S3Client(localClientConfig(functionEndpoints.s3)) : s3,
      sqs,
      lambda: new LambdaClient(localClientConfig(lambdaInvoke.endpoint)),
    };
    const sharedKms = new KMSClient(localClientConfig(kmsStandIn.endpoint));
    const clientsOf = (fn: string): typeof shared =>
      options.onAwsCall
        ? {
            dynamodb: recorded(
              new DynamoDBClient(localClientConfig(functionEndpoints.dynamodb)),
              fn,
              "dynamodb",
            ),
            s3: recorded(new S3Client(localClientConfig(functionEndpoints.s3)), fn, "s3"),
            sqs: recorded(new SQSClient(localClientConfig(sqsS3.endpoint)), fn, "sqs"),
            lambda: recorded(new LambdaClient(localClientConfig(lambdaInvoke.endpoint)), fn, "lambda"),
          }
        : shared;
    const secretClientsOf = (fn: string) => ({
      ...clientsOf(fn),
      kms: options.onAwsCall
        ? recorded(new KMSClient(localClientConfig(kmsStandIn.endpoint)), fn, "kms")
        : sharedKms,
    });
    const workerClients = secretClientsOf(SERVICES.renderWorker);

    const workerConfig = configs.renderWorker.config;
    const browsers = renderWorkerBrowsers(workerConfig, {
      ...options.egress,
      ...(options.localHosts ? { localHosts: options.localHosts } : {}),
    });
    stops.push(() => browsers.close());
    const chromium: Renderer = new ChromiumRenderer({ pool: browsers });
    const crashBrowser = () => {
      const pid = browsers.browserProcessId();
      if (pid !== undefined) process.kill(pid, "SIGKILL");
    };

    // Each poller invokes its own simulated execution environment; one that is killed (a fault) or
    // times out is replaced, and the adapters it was wired with stop answering, as a dead process would.
    const faults = options.faults ?? {};
    const afterStoreCall = workerStoreCallHook(faults, injector);
    const workerInstance = () => {
      const environment = new LocalLambdaEnvironment();
      const kill = (reason: Error) => environment.kill(reason);
      const renderer =
        faults.random || faults.beforeRender || faults.afterRender || faults.atStep
          ? new FaultInjectingRenderer(chromium, faults, {
              ...(injector ? { injector } : {}),
              kill,
              crashBrowser,
            })
          : chromium;
      const handler = wireRenderWorker(workerClients, workerConfig, {
        logger: loggerOf(SERVICES.renderWorker),
        clock,
        metrics,
        browsers,
        renderer: environment.freeze(renderer),
        // The environment's freeze is outermost: a kill after a call keeps its answer from the worker.
        adapt: <T extends object>(adapter: T, name: string) =>
          environment.freeze(withStoreCallFaults(withFaults(adapter, name), name, afterStoreCall, kill)),
      });
      return {
        handler: withKillBeforeDelete(handler, faults, injector, kill),
        died: environment.died,
        kill,
      };
    };
    const eventSource = (definition: FunctionDefinition, concurrency: number, batchSize?: number) => ({
      batchSize: batchSize ?? definition.eventSource?.batchSize ?? 1,
      concurrency,
      // An invocation that outlives its definition's timeout is killed, as Lambda kills it.
      functionTimeoutMs: definition.timeoutSeconds * 1000,
      logger,
    });
    const loop = startEventSourceLoop({
      sqs,
      queueUrl: queues.queueUrl,
      queueArn: queues.queueArn,
      instance: workerInstance,
      ...eventSource(
        renderWorkerFunction,
        options.workerConcurrency ?? LOCAL_CONCURRENCY.renderWorker,
        options.batchSize,
      ),
    });
    stops.push(() => loop.stop());

    const dispatcher = wireWebhookDispatcher(
      secretClientsOf(SERVICES.webhookDispatcher),
      configs.webhookDispatcher.config,
      {
        logger: loggerOf(SERVICES.webhookDispatcher),
        clock,
        metrics,
        adapt: withFaults,
        ...(options.webhookSchedule ? { schedule: options.webhookSchedule } : {}),
        ...(options.webhookEgress?.resolve ? { resolve: options.webhookEgress.resolve } : {}),
      },
    );
    const webhookLoop = startEventSourceLoop({
      sqs,
      queueUrl: webhookQueues.queueUrl,
      queueArn: webhookQueues.queueArn,
      instance: () => ({ handler: dispatcher }),
      ...eventSource(webhookDispatcherFunction, LOCAL_CONCURRENCY.webhookDispatcher),
    });
    stops.push(() => webhookLoop.stop());

    // Batches: the fan-out function on its own queue; renders then take the render queue like any job.
    const fanOut = wireBatchFanOut(clientsOf(SERVICES.batchFanOut), configs.batchFanOut.config, {
      logger: loggerOf(SERVICES.batchFanOut),
      clock,
      adapt: withFaults,
    });
    const batchLoop = startEventSourceLoop({
      sqs,
      queueUrl: batchQueues.queueUrl,
      queueArn: batchQueues.queueArn,
      instance: () => ({ handler: fanOut }),
      ...eventSource(batchFanOutFunction, LOCAL_CONCURRENCY.batchFanOut),
    });
    stops.push(() => batchLoop.stop());

    // The reconciler: on a timer here, on an EventBridge schedule on AWS; the same wired handler.
    const reconciler = wireReconciler(clientsOf(SERVICES.reconciler), configs.reconciler.config, {
      logger: loggerOf(SERVICES.reconciler),
      clock,
      metrics,
      adapt: withFaults,
    });
    let reconcilerRuns: Promise<unknown> = Promise.resolve();
    const reconcile = (): Promise<ReconcileSummary> => {
      const run = reconcilerRuns.then(() => reconciler());
      reconcilerRuns = run.catch(() => {});
      return run;
    };
    const reconcileEveryMs = (options.reconcileEverySeconds ?? LOCAL_OVERRIDES.reconcileEverySeconds) * 1000;
    const reconcileTimer = setInterval(() => {
      reconcile().catch((err: Error) =>
        loggerOf(SERVICES.reconciler).error("reconciler run failed", { error: err.message }),
      );
    }, reconcileEveryMs);
    reconcileTimer.unref();
    stops.push(async () => {
      clearInterval(reconcileTimer);
      await reconcilerRuns;
    });

    const api = wireApi(secretClientsOf(SERVICES.api), configs.api.config, {
      logger: loggerOf(SERVICES.api),
      clock,
      metrics,
      adapt: withFaults,
      newId: randomUUID,
      ...(options.rateLimit
        ? { rateLimiter: new InProcessRateLimiter(options.rateLimit, clock, tierLimits(options.tiers)) }
        : {}),
    });
    const [previewKey] = apiKeys;
    if (!previewKey) throw new Error("The local stack needs at least one API key.");
    // Probes get clients of their own that try once: a stand-in that is down should fail /healthz fast.
    const probeConfig = (endpoint: string) => ({ ...localClientConfig(endpoint), maxAttempts: 1 });
    const healthChecks = localHealthChecks({
      sqs: new SQSClient(probeConfig(sqsS3.endpoint)),
      queueUrl: queues.queueUrl,
      s3: new S3Client(probeConfig(sqsS3.endpoint)),
      bucket: LOCAL_NAMES.outputsBucket,
      dynamodb: new DynamoDBClient(probeConfig(dynamo.endpoint)),
      table: LOCAL_NAMES.jobsTable,
      browsers,
    });
    const gateway = await startLocalApiGateway({
      port: options.apiPort,
      handler: api,
      localRoutes: {
        ...(await previewRoutes({ apiKey: previewKey.apiKey, edgeUrl: edge.url })),
        "/healthz": healthzRoute(healthChecks),
      },
    });
    stops.push(gateway.stop);

    const endpointsFile = join(dataDir, LOCAL_ENDPOINTS_FILE);
    await writeFile(
      endpointsFile,
      `${JSON.stringify({ apiUrl: gateway.url, sqsS3: sqsS3.endpoint, dynamodb: dynamo.endpoint, queues, webhookQueues }, null, 2)}\n`,
    );
    stops.push(() => rm(endpointsFile, { force: true }));

    return {
      apiUrl: gateway.url,
      previewUrl: `${gateway.url}${PREVIEW_PATHS.page}`,
      edgeUrl: edge.url,
      endpoints: { sqsS3: sqsS3.endpoint, dynamodb: dynamo.endpoint, lambda: lambdaInvoke.endpoint },
      names: LOCAL_NAMES,
      queues,
      webhookQueues,
      batchQueues,
      ...(injector ? { faultCounts: injector.counts } : {}),
      apiKeys,
      generatedApiKey: generated,
      functions: configs,
      reconcile,
      browsers,
      async rotateSigningKey(rotation = {}) {
        // URLs already handed out must outlive their key's place in the key group.
        const ttls = callerTtlsOf(configs.signAssets.config);
        const longest = longestUrlLifetimeSeconds(Math.max(...Object.values(ttls)));
        const overlapSeconds = rotation.overlapSeconds ?? longest;
        if (overlapSeconds < longest) {
          throw new Error(
            `overlapSeconds must be at least ${longest}, the longest a signed URL stays valid (twice the longest caller TTL); got ${overlapSeconds}.`,
          );
        }
        const previousKeyPairId = keys.keyPairId;
        const replaced = keys.privateKeyPem;
        keys = await rotateSigningKeys(dataDir, { now: clock.now(), overlapSeconds });
        // As PutSecretValue does: the replaced value stays readable as AWSPREVIOUS.
        previousSecrets.set(LOCAL_NAMES.signingKeySecret, replaced);
        secrets.set(LOCAL_NAMES.signingKeySecret, keys.privateKeyPem);
        signAssets = wireSigner();
        const previous = keys.keyGroup.find((k) => k.keyPairId === previousKeyPairId);
        if (!previous?.retiresAt) throw new Error("The rotated-out key is missing from the key group.");
        return { keyPairId: keys.keyPairId, previousKeyPairId, previousRetiresAt: previous.retiresAt };
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Both stand-ins in this process, persisted under `dataDir`; their stops join `stops`. */
export async function startStandIns(dataDir: string, stops: Array<() => Promise<void>>) {
  const sqsS3 = await startSqsS3StandIn({ port: 0, dataDir });
  stops.push(sqsS3.stop);
  const dynamo = await startDynamoDbStandIn({ port: 0, dataDir });
  stops.push(dynamo.stop);
  return { sqsS3, dynamo };
}

/** Throttling proxies in front of DynamoDB and S3 when the random faults throttle; their stops join `stops`. */
async function throttledEndpoints(
  injector: FaultInjector | undefined,
  targets: { dynamodb: string; s3: string },
  stops: Array<() => Promise<void>>,
): Promise<{ dynamodb: string; s3: string } | undefined> {
  if (!injector || injector.spec.throttle <= 0) return undefined;
  const proxy = (service: "dynamodb" | "s3") =>
    startThrottlingProxy({
      target: targets[service],
      service,
      share: injector.spec.throttle,
      random: () => injector.random(),
      onThrottle: () => {
        injector.counts.throttled += 1;
      },
    });
  const dynamodb = await proxy("dynamodb");
  stops.push(dynamodb.stop);
  const s3 = await proxy("s3");
  stops.push(s3.stop);
  return { dynamodb: dynamodb.endpoint, s3: s3.endpoint };
}

/** Keys from `KILN_API_KEYS`, or one kept in the data dir for tenant `local`. */
async function resolveApiKeys(dataDir: string, list: string | undefined) {
  if (list?.trim()) return { apiKeys: parseApiKeyList(list), generated: false };
  const file = join(dataDir, "api-key");
  const existing = await readFile(file, "utf8").catch(() => undefined);
  if (existing?.trim()) return { apiKeys: [{ tenant: "local", apiKey: existing.trim() }], generated: false };
  const apiKey = generateApiKey();
  await writeFile(file, `${apiKey}\n`, { mode: 0o600 });
  return { apiKeys: [{ tenant: "local", apiKey }], generated: true };
}
