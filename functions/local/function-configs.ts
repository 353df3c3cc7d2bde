/**
 * The configuration the local stack runs each function with: parsed from the same definitions as on
 * Lambda, with the stand-ins' resource names and only the overrides listed here. Everything else is the
 * definition's default, as in the synthesized template (test/infra/function-config.test.ts compares).
 */

import { RENDER_QUEUE } from "../core/constants.js";
import type { RetryPolicy } from "../core/retry-policy.js";
import type { SigningCaller } from "../core/signing-policy.js";
import type { CallbackUrlPolicy } from "../core/webhooks.js";
import { apiFunction } from "../handlers/api/function.js";
import { batchFanOutFunction } from "../handlers/batch-fanout/function.js";
import type { FUNCTION_DEFINITIONS } from "../handlers/definitions.js";
import {
  type ConfigOf,
  type FunctionDefinition,
  localConfig,
  type ValuesOf,
} from "../handlers/function-definition.js";
import { reconcilerFunction, stuckAfterSecondsFor } from "../handlers/reconciler/function.js";
import { renderWorkerFunction } from "../handlers/render-worker/function.js";
import { signAssetsFunction } from "../handlers/sign-assets/function.js";
import { webhookDispatcherFunction } from "../handlers/webhook-dispatcher/function.js";
import { LOCAL_NAMES } from "./resources.js";

type LocalFunctions = typeof FUNCTION_DEFINITIONS;

/** Where the stand-ins are: the values of every `resource` setting. */
export interface LocalResourceValues {
  readonly renderQueueUrl: string;
  readonly webhookQueueUrl: string;
  readonly batchQueueUrl: string;
  /** The local edge, which plays CloudFront. */
  readonly cdnBaseUrl: string;
  readonly keyPairId: string;
  /** The public key `keyPairId` names. */
  readonly signingPublicKeyPem: string;
}

/** The tuning a caller of `startLocalStack` may change (tests shorten waits; the values stay visible). */
export interface LocalTuning {
  /** Receives before the render queue dead-letters a message. @default RENDER_QUEUE.maxReceiveCount */
  readonly maxReceiveCount?: number | undefined;
  /**
   * Seconds a worker keeps a message hidden between heartbeats; a killed worker's message is back
   * after at most this. @default the visibility timeout
   */
  readonly holdSeconds?: number | undefined;
  /** Backoff of transient failures. @default LOCAL_OVERRIDES.retry (1 s doubling up to 30 s) */
  readonly retry?: RetryPolicy | undefined;
  /** Records of one batch the worker renders at once. @default one per core */
  readonly renderConcurrency?: number | undefined;
  /** Lifetime of the asset URLs the worker has minted for a render. @default the definition's (300) */
  readonly assetUrlTtlSeconds?: number | undefined;
  /** Where callbackUrls may point. @default LOCAL_OVERRIDES.callbackPolicy (http(s) to 127.0.0.1, localhost) */
  readonly callbackPolicy?: CallbackUrlPolicy | undefined;
  /** Seconds between completion checks of a running batch. @default LOCAL_OVERRIDES.batchCheckEverySeconds (2) */
  readonly batchCheckEverySeconds?: number | undefined;
  /**
   * The local render queue's visibility timeout, from which the reconciler's deadline is derived as on
   * AWS. @default the definition's (the deployed queue's)
   */
  readonly visibilityTimeoutSeconds?: number | undefined;
  /**
   * Seconds after its last state change that the reconciler takes an unfinished job to be stuck.
   * @default maxReceiveCount × (visibility timeout + retry.maxSeconds) of this stack, when either is set
   */
  readonly reconcileStuckAfterSeconds?: number | undefined;
  /** Seconds after its final delivery that the reconciler takes an unfinished job to be stuck. @default the definition's */
  readonly reconcileFinalDeliveryGraceSeconds?: number | undefined;
}

/**
 * Values the local stack sets unlike a deployment, and why. Callbacks go to receivers on this machine
 * (a deployment allows https to public hosts only); retries and batch checks are quicker, because one
 * developer waits on them.
 */
export const LOCAL_OVERRIDES = {
  callbackPolicy: { schemes: ["http", "https"], hosts: ["127.0.0.1", "localhost"] },
  retry: { baseSeconds: 1, maxSeconds: 30 },
  batchCheckEverySeconds: 2,
  /** The reconciler's timer (not a function setting): a minute, against every ten on AWS. */
  reconcileEverySeconds: 60,
} as const satisfies LocalTuning & { reconcileEverySeconds: number };

export type LocalFunctionConfigs = {
  readonly [K in keyof LocalFunctions]: {
    readonly config: ConfigOf<LocalFunctions[K]>;
    /** The settings given a value other than the deployment's (apart from resources). */
    readonly overridden: ReadonlyArray<keyof LocalFunctions[K]["settings"]>;
  };
};

export function localFunctionConfigs(
  resources: LocalResourceValues,
  tuning: LocalTuning,
): LocalFunctionConfigs {
  const callbacks = tuning.callbackPolicy ?? LOCAL_OVERRIDES.callbackPolicy;
  const retry = tuning.retry ?? LOCAL_OVERRIDES.retry;
  const callbackValues = {
    callbackSchemes: callbacks.schemes.join(","),
    callbackHosts: callbacks.hosts?.join(","),
  };
  const buckets = {
    outputsBucket: LOCAL_NAMES.outputsBucket,
    payloadsBucket: LOCAL_NAMES.payloadsBucket,
    templatesBucket: LOCAL_NAMES.templatesBucket,
    assetsBucket: LOCAL_NAMES.assetsBucket,
  };
  const jobsTable = LOCAL_NAMES.jobsTable;
  const webhookSecretsKey = LOCAL_NAMES.webhookSecretsKey;
  const pageSecretsKey = LOCAL_NAMES.pageSecretsKey;
  // Each caller invokes the signer through its own alias, as on AWS: the alias decides what it may sign.
  const signerAs = (caller: SigningCaller) => `${LOCAL_NAMES.signerFunction}:${caller}`;
  return {
    api: configure(
      apiFunction,
      {
        jobsTable,
        signerFunctionName: signerAs("api"),
        webhookSecretsKey,
        pageSecretsKey,
        ...buckets,
        ...resources,
      },
      callbackValues,
    ),
    renderWorker: configure(
      renderWorkerFunction,
      { jobsTable, signerFunctionName: signerAs("render-worker"), pageSecretsKey, ...buckets, ...resources },
      {
        maxReceiveCount: tuning.maxReceiveCount,
        visibilityHoldSeconds: tuning.holdSeconds,
        retryBaseSeconds: retry.baseSeconds,
        retryMaxSeconds: retry.maxSeconds,
        renderConcurrency: tuning.renderConcurrency,
        assetUrlTtlSeconds: tuning.assetUrlTtlSeconds,
      },
    ),
    signAssets: configure(
      signAssetsFunction,
      { ...resources, signingKeySecretArn: LOCAL_NAMES.signingKeySecret },
      // The worker's cap follows the worker's TTL, as lib/ sets both from one value.
      { assetUrlTtlSeconds: tuning.assetUrlTtlSeconds },
    ),
    webhookDispatcher: configure(
      webhookDispatcherFunction,
      { jobsTable, webhookSecretsKey, ...resources },
      callbackValues,
    ),
    batchFanOut: configure(
      batchFanOutFunction,
      { jobsTable, ...buckets, ...resources },
      { checkEverySeconds: tuning.batchCheckEverySeconds ?? LOCAL_OVERRIDES.batchCheckEverySeconds },
    ),
    reconciler: configure(
      reconcilerFunction,
      { jobsTable, ...resources },
      {
        stuckAfterSeconds: tuning.reconcileStuckAfterSeconds ?? localStuckAfterSeconds(tuning),
        finalDeliveryGraceSeconds: tuning.reconcileFinalDeliveryGraceSeconds,
      },
    ),
  };
}

/**
 * The reconciler's deadline for this stack's render queue, derived as lib/ derives it for the deployed
 * one; undefined (the definition's default) while the queue is the deployed one's.
 */
function localStuckAfterSeconds(tuning: LocalTuning): number | undefined {
  if (tuning.maxReceiveCount === undefined && tuning.visibilityTimeoutSeconds === undefined) return undefined;
  const visibility =
    tuning.visibilityTimeoutSeconds ??
    RENDER_QUEUE.visibilityTimeoutFactor * renderWorkerFunction.timeoutSeconds;
  return stuckAfterSecondsFor({
    maxReceiveCount: tuning.maxReceiveCount ?? RENDER_QUEUE.maxReceiveCount,
    visibilityTimeoutSeconds: visibility,
    retryMaxSeconds: (tuning.retry ?? LOCAL_OVERRIDES.retry).maxSeconds,
  });
}

/** Resources are picked to the definition's settings; overrides are kept visible by name. */
function configure<D extends FunctionDefinition>(
  definition: D,
  resources: Readonly<Record<string, string>>,
  overrides: ValuesOf<D>,
) {
  const values: Record<string, string | number | undefined> = {};
  for (const [name, setting] of Object.entries(definition.settings)) {
    if (setting.resource && name in resources) values[name] = resources[name];
  }
  const overridden = Object.entries(overrides)
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name);
  return {
    config: localConfig(definition, { ...values, ...overrides } as ValuesOf<D>),
    overridden: overridden as Array<keyof D["settings"]>,
  };
}
