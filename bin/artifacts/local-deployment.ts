/**
 * "Deploys" a synthesized stack on this machine: every table, bucket and queue the template defines is
 * created in the stand-ins (from the template's own properties), each CloudFormation token a function's
 * environment holds is resolved to the local resource standing for that logical id, and the chosen
 * functions run from their synthesized bundles in the Lambda-shaped sandbox, wired as the template wires
 * them: API Gateway's integration → the api function, event source mappings → SQS pollers, Lambda Invoke
 * → the invoked function, the distribution → the local edge (verifying signatures with the local key),
 * the signing-key secret → a local Secrets Manager endpoint, KMS keys → a local KMS endpoint.
 */
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { powertoolsLogger } from "../../functions/adapters/powertools-logger.js";
import { startLocalApiGateway } from "../../functions/local/api-gateway-server.js";
import { LOCAL_REGION, localClientConfig } from "../../functions/local/aws-clients.js";
import { type EdgeRoute, startLocalEdge } from "../../functions/local/edge.js";
import { type EventSourceLoop, startEventSourceLoop } from "../../functions/local/event-source-loop.js";
import { loadOrCreateKmsKey, startKmsStandIn } from "../../functions/local/kms-stand-in.js";
import { type LocalFunction, startLambdaInvokeServer } from "../../functions/local/lambda-invoke-server.js";
import { ensureBucket } from "../../functions/local/resources.js";
import { startSecretsManagerStandIn } from "../../functions/local/secrets-manager-stand-in.js";
import { loadOrCreateSigningKeys, type SigningKeys } from "../../functions/local/signing-keys.js";
import { startDynamoDbStandIn, startSqsS3StandIn } from "../../functions/local/stand-ins.js";
import {
  type CfnResource,
  type CfnValue,
  type LocalBinding,
  resolveCfnValue,
  type SynthesizedFunction,
  type SynthesizedStack,
} from "./cloud-assembly.js";
import {
  type SandboxedFunction,
  type SandboxedFunctionSpec,
  type SandboxOptions,
  sandboxSpecOf,
  startSandboxedFunction,
} from "./sandbox.js";

const ACCOUNT = "000000000000";

/** A function of the deployment: invocations go to its live sandbox, a fresh one after it died. */
export interface SandboxedService {
  readonly fn: SynthesizedFunction;
  /** How its sandboxes start: the bundle, layers, settings, resolved environment and host names. */
  readonly spec: SandboxedFunctionSpec;
  /** The local function name (what `Ref` of it resolves to). */
  readonly name: string;
  /** The environment the sandbox gets: the synthesized variables resolved, plus endpoint overrides. */
  readonly environment: Readonly<Record<string, string>>;
  /** `qualifier`: the alias the caller invoked (the signer's callers each have one). */
  invoke(event: unknown, qualifier?: string): Promise<unknown>;
  /** Every environment started so far, oldest first. */
  environments(): readonly SandboxedFunction[];
  /** Starts the environment now (Lambda creates one on the first invocation) and waits for its init. */
  start(): Promise<SandboxedFunction>;
}

export interface LocalDeployment {
  readonly stack: SynthesizedStack;
  /** The local API Gateway, when the api function runs. */
  readonly apiUrl?: string;
  /** The local edge playing the distribution. */
  readonly cdnUrl: string;
  readonly keys: SigningKeys;
  readonly bindings: ReadonlyMap<string, LocalBinding>;
  readonly clients: { readonly s3: S3Client; readonly sqs: SQSClient; readonly dynamodb: DynamoDBClient };
  /** The running function at a construct path (`RenderWorker/Worker`). */
  service(path: string): SandboxedService;
  stop(): Promise<void>;
}

export interface LocalDeploymentOptions {
  readonly stack: SynthesizedStack;
  /** Construct paths of the functions to run (`Api/ApiFunction`, `RenderWorker/Worker`, …). */
  readonly run: readonly string[];
  /** Holds the signing key pair. */
  readonly workDir: string;
  /** Start SQS pollers for the event source mappings of the running functions. @default true */
  readonly eventSources?: boolean;
  readonly sandbox?: SandboxOptions;
}

/**
 * The AWS_ENDPOINT_URL_* overrides a sandboxed function gets on top of its synthesized environment: the
 * only variables that differ from Lambda (the SDK's default checksums are accepted by the stand-ins).
 */
export function endpointOverrides(endpoints: {
  sqsS3: string;
  sqs: string;
  dynamodb: string;
  lambda: string;
  secretsManager: string;
  kms: string;
}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: endpoints.sqsS3,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager,
    AWS_ENDPOINT_URL_KMS: endpoints.kms,
  };
}

export async function deployLocally(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  };
  try {
    return await deploy(options, stops, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function deploy(
  options: LocalDeploymentOptions,
  stops: Array<() => Promise<void>>,
  stopAll: () => Promise<void>,
): Promise<LocalDeployment> {
  const { stack } = options;
  // Queue URLs on sqs.<region>.localhost, which the sandboxes resolve to loopback and use as their SQS
  // endpoint: the URL GetQueueUrl returns then has the endpoint's origin, as on AWS, and the SDK takes it
  // as it is instead of failing to parse it and printing a warning with a stack.
  const sqsS3 = await startSqsS3StandIn({ port: 0, queueUrlHost: "localhost" });
  const sqsHost = `sqs.${LOCAL_REGION}.localhost`;
  const sqsEndpoint = `http://${sqsHost}:${new URL(sqsS3.endpoint).port}`;
  stops.push(sqsS3.stop);
  const dynamo = await startDynamoDbStandIn({ port: 0 });
  stops.push(dynamo.stop);
  const s3 = new S3Client(localClientConfig(sqsS3.endpoint));
  const sqs = new SQSClient(localClientConfig(sqsS3.endpoint));
  const dynamodb = new DynamoDBClient(localClientConfig(dynamo.endpoint));
  const keys = await loadOrCreateSigningKeys(options.workDir);

  const bindings = new Map<string, LocalBinding>([
    ["AWS::Region", { ref: LOCAL_REGION }],
    ["AWS::AccountId", { ref: ACCOUNT }],
    ["AWS::Partition", { ref: "aws" }],
    ["AWS::URLSuffix", { ref: "amazonaws.com" }],
  ]);
  const ofType = (type: string) => stack.resources.filter((r) => r.type === type);

  for (const table of ofType("AWS::DynamoDB::Table")) {
    const name = String(table.properties.TableName ?? `${stack.stackName}-${table.logicalId}`);
    await dynamodb.send(new CreateTableCommand(tableInput(name, table)));
    bindings.set(table.logicalId, {
      ref: name,
      attributes: { Arn: `arn:aws:dynamodb:${LOCAL_REGION}:${ACCOUNT}:table/${name}` },
    });
  }
  for (const bucket of ofType("AWS::S3::Bucket")) {
    const name = String(
      bucket.properties.BucketName ?? `${stack.stackName}-${bucket.logicalId}`,
    ).toLowerCase();
    await ensureBucket(s3, name);
    bindings.set(bucket.logicalId, {
      ref: name,
      attributes: {
        Arn: `arn:aws:s3:::${name}`,
        RegionalDomainName: `${name}.s3.${LOCAL_REGION}.amazonaws.com`,
      },
    });
  }
  // Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
  const queues = ofType("AWS::SQS::Queue").sort(
    (a, b) =>
      Number(a.properties.RedrivePolicy !== undefined) - Number(b.properties.RedrivePolicy !== undefined),
  );
  for (const queue of queues) {
    const name = String(queue.properties.QueueName ?? `${stack.stackName}-${queue.logicalId}`);
    const attributes: Record<string, string> = {};
    for (const key of [
      "VisibilityTimeout",
      "MessageRetentionPeriod",
      "DelaySeconds",
      "ReceiveMessageWaitTimeSeconds",
    ]) {
      if (queue.properties[key] !== undefined) attributes[key] = String(queue.properties[key]);
    }
    const redrive = queue.properties.RedrivePolicy;
    if (redrive) {
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: resolveCfnValue(redrive.deadLetterTargetArn, bindings, queue.logicalId),
        maxReceiveCount: redrive.maxReceiveCount,
      });
    }
    const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = String(created.QueueUrl);
    if (!url.startsWith(`${sqsEndpoint}/`))
      throw new Error(`The SQS stand-in named ${name} ${url}, not on ${sqsEndpoint}.`);
    const arn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))
    ).Attributes?.QueueArn;
    bindings.set(queue.logicalId, {
      ref: url,
      attributes: { Arn: String(arn), QueueName: name, QueueUrl: url },
    });
  }

  // The signing key: the public key's id, and the secret the key-pair custom resource fills.
  const secrets = new Map<string, string>();
  for (const publicKey of ofType("AWS::CloudFront::PublicKey")) {
    bindings.set(publicKey.logicalId, { ref: keys.keyPairId, attributes: { Id: keys.keyPairId } });
  }
  for (const secret of ofType("AWS::SecretsManager::Secret")) {
    const arn = `arn:aws:secretsmanager:${LOCAL_REGION}:${ACCOUNT}:secret:${secret.logicalId}-local`;
    bindings.set(secret.logicalId, { ref: arn, attributes: { Id: arn } });
  }
  for (const pair of stack.resources.filter((r) => r.type === "Custom::KilnSigningKeyPair")) {
    secrets.set(resolveCfnValue(pair.properties.SecretArn, bindings, pair.logicalId), keys.privateKeyPem);
    bindings.set(pair.logicalId, { attributes: { PublicKeyPem: keys.publicKeyPem } });
  }
  const secretsManager = await startSecretsManagerStandIn(secrets);
  stops.push(secretsManager.stop);
  // Each KMS key: its ARN, and material made in the work dir.
  const kmsKeys = new Map<string, Buffer>();
  for (const key of ofType("AWS::KMS::Key")) {
    const arn = `arn:aws:kms:${LOCAL_REGION}:${ACCOUNT}:key/${key.logicalId}`;
    bindings.set(key.logicalId, { ref: key.logicalId, attributes: { Arn: arn, KeyId: key.logicalId } });
    kmsKeys.set(arn, await loadOrCreateKmsKey(options.workDir, key.logicalId));
  }
  const kms = await startKmsStandIn(kmsKeys);
  stops.push(kms.stop);

  const edge = await startLocalEdge({
    port: 0,
    routes: edgeRoutes(ofType("AWS::CloudFront::Distribution"), bindings),
    s3,
    trustedKeys: keys.keyGroup,
  });
  stops.push(edge.stop);
  const edgeHost = new URL(edge.url).host;
  for (const distribution of ofType("AWS::CloudFront::Distribution")) {
    bindings.set(distribution.logicalId, {
      ref: `E${distribution.logicalId.slice(0, 12).toUpperCase()}`,
      attributes: { DomainName: edgeHost },
    });
  }
  for (const fn of stack.functions) {
    const name = fn.logicalId;
    bindings.set(fn.logicalId, {
      ref: name,
      attributes: { Arn: `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT}:function:${name}` },
    });
  }

  const services = new Map<string, SandboxedService>();
  const byName: Record<string, LocalFunction> = {};
  // Each function's aliases, as the template declares them: Invoke knows them and no others.
  const aliases: Record<string, string[]> = {};
  for (const alias of ofType("AWS::Lambda::Alias")) {
    const target = String(alias.properties.FunctionName?.Ref);
    aliases[target] = [...(aliases[target] ?? []), String(alias.properties.Name)];
  }
  const lambda = await startLambdaInvokeServer({ port: 0, functions: byName, aliases });
  stops.push(lambda.stop);
  const overrides = endpointOverrides({
    sqsS3: sqsS3.endpoint,
    sqs: sqsEndpoint,
    dynamodb: dynamo.endpoint,
    lambda: lambda.endpoint,
    secretsManager: secretsManager.endpoint,
    kms: kms.endpoint,
  });
  for (const path of options.run) {
    const fn = stack.functionAt(path);
    const service = sandboxedService(
      sandboxSpecOf(fn, resolvedEnvironment(fn, bindings, edgeHost, overrides), {
        region: LOCAL_REGION,
        hosts: { [sqsHost]: "127.0.0.1" },
      }),
      fn,
      options.sandbox,
    );
    stops.push(service.stopAll);
    services.set(path, service);
    // The invoked ARN's qualifier reaches the sandbox, whose runtime reports it to the handler.
    byName[service.name] = (event, context) =>
      service.invoke(event, context.invokedFunctionArn.split(":")[7]);
  }

  const running = [...services.values()];
  let apiUrl: string | undefined;
  const integrated = running.find((s) =>
    ofType("AWS::ApiGateway::Method").some((m) =>
      JSON.stringify(m.properties.Integration?.Uri ?? "").includes(
        `{"Fn::GetAtt":["${s.fn.logicalId}","Arn"]}`,
      ),
    ),
  );
  if (integrated) {
    const api = await startLocalApiGateway({
      port: 0,
      handler: (event: APIGatewayProxyEvent) => integrated.invoke(event) as Promise<APIGatewayProxyResult>,
    });
    stops.push(api.stop);
    apiUrl = api.url;
  }

  if (options.eventSources ?? true) {
    const logger = powertoolsLogger({ serviceName: "sandbox-event-source", write: () => {} });
    for (const mapping of ofType("AWS::Lambda::EventSourceMapping")) {
      const target = running.find((s) => s.fn.logicalId === mapping.properties.FunctionName?.Ref);
      if (!target) continue;
      const queueArn = resolveCfnValue(mapping.properties.EventSourceArn, bindings, mapping.logicalId);
      const queue = [...bindings.values()].find((b) => b.attributes?.Arn === queueArn);
      if (!queue?.ref) throw new Error(`${mapping.logicalId} polls ${queueArn}, which is not a local queue.`);
      const loop: EventSourceLoop = startEventSourceLoop({
        sqs,
        queueUrl: queue.ref,
        queueArn,
        batchSize: Number(mapping.properties.BatchSize ?? 10),
        // One environment per function here: the machine is small, and warm reuse is what is checked.
        concurrency: 1,
        functionTimeoutMs: target.fn.timeoutSeconds * 1000,
        instance: () => ({
          handler: (event: SQSEvent) => target.invoke(event) as Promise<SQSBatchResponse>,
        }),
        logger,
      });
      stops.push(loop.stop);
    }
  }

  return {
    stack,
    ...(apiUrl ? { apiUrl } : {}),
    cdnUrl: edge.url,
    keys,
    bindings,
    clients: { s3, sqs, dynamodb },
    service(path) {
      const service = services.get(path);
      if (!service)
        throw new Error(`${path} is not running in this deployment; run: ${options.run.join(", ")}.`);
      return service;
    },
    stop: stopAll,
  };
}

/**
 * The function's synthesized variables with every token resolved, then the endpoint overrides. The
 * local edge speaks plain HTTP on loopback, so the `https://<distribution domain>` the template joins
 * becomes `http://` — the one rewrite of a synthesized value.
 */
export function resolvedEnvironment(
  fn: SynthesizedFunction,
  bindings: ReadonlyMap<string, LocalBinding>,
  edgeHost: string,
  overrides: Readonly<Record<string, string>>,
): Record<string, string> {
  const resolved = Object.fromEntries(
    Object.entries(fn.environment).map(([name, value]) => [
      name,
      resolveCfnValue(value, bindings, `${fn.logicalId} ${name}`).replace(
        `https://${edgeHost}`,
        `http://${edgeHost}`,
      ),
    ]),
  );
  return { ...resolved, ...overrides };
}

function sandboxedService(
  spec: SandboxedFunctionSpec,
  fn: SynthesizedFunction,
  sandbox: SandboxOptions | undefined,
): SandboxedService & { stopAll(): Promise<void> } {
  const started: SandboxedFunction[] = [];
  let current: Promise<SandboxedFunction> | undefined;
  const start = () => {
    const starting = startSandboxedFunction(spec, sandbox).then((env) => {
      started.push(env);
      // A dead environment is replaced on the next invocation, as Lambda does.
      void env.died.then(() => {
        if (current === starting) current = undefined;
      });
      return env;
    });
    current = starting;
    return starting;
  };
  return {
    fn,
    spec,
    name: spec.functionName,
    environment: spec.environment,
    environments: () => started,
    start: async () => {
      const env = await (current ?? start());
      await env.initialized;
      return env;
    },
    invoke: async (event, qualifier) => (await (current ?? start())).invoke(event, qualifier),
    stopAll: async () => {
      current = undefined;
      await Promise.all(started.map((env) => env.stop()));
    },
  };
}

function tableInput(name: string, table: CfnResource): CreateTableCommandInput {
  const p = table.properties;
  return {
    TableName: name,
    BillingMode: p.BillingMode ?? "PAY_PER_REQUEST",
    KeySchema: p.KeySchema,
    AttributeDefinitions: p.AttributeDefinitions,
    ...(p.GlobalSecondaryIndexes
      ? {
          GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as CfnValue[]).map((index) => ({
            IndexName: index.IndexName,
            KeySchema: index.KeySchema,
            Projection: index.Projection,
          })),
        }
      : {}),
    ...(p.ProvisionedThroughput ? { ProvisionedThroughput: p.ProvisionedThroughput } : {}),
  };
}

/** Path patterns of the distribution's behaviours → the bucket behind each one's origin; default last. */
function edgeRoutes(
  distributions: readonly CfnResource[],
  bindings: ReadonlyMap<string, LocalBinding>,
): EdgeRoute[] {
  const routes: EdgeRoute[] = [];
  for (const distribution of distributions) {
    const config = distribution.properties.DistributionConfig ?? {};
    const bucketOf = (originId: string): string => {
      const origin = ((config.Origins ?? []) as CfnValue[]).find((o) => o.Id === originId);
      const [bucketId] = (origin?.DomainName?.["Fn::GetAtt"] ?? []) as [string?];
      const bucket = bucketId ? bindings.get(bucketId)?.ref : undefined;
      if (!bucket) throw new Error(`${distribution.logicalId}'s origin ${originId} is not a local bucket.`);
      return bucket;
    };
    for (const behaviour of (config.CacheBehaviors ?? []) as CfnValue[]) {
      routes.push({
        pathPrefix: String(behaviour.PathPattern).replace(/\*$/, ""),
        bucket: bucketOf(behaviour.TargetOriginId),
      });
    }
    if (config.DefaultCacheBehavior) {
      routes.push({ pathPrefix: "", bucket: bucketOf(config.DefaultCacheBehavior.TargetOriginId) });
    }
  }
  return routes;
}
