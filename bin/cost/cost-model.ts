import { LIMITS } from "../../functions/core/render-request.js";
import { RENDER_WAIT, waitSchedule } from "../../functions/core/render-wait.js";
import { apiFunction } from "../../functions/handlers/api/function.js";
import { batchFanOutFunction } from "../../functions/handlers/batch-fanout/function.js";
import { renderWorkerFunction } from "../../functions/handlers/render-worker/function.js";
import { signAssetsFunction } from "../../functions/handlers/sign-assets/function.js";

/**
 * What Kiln costs to run on AWS, per render and per month: every AWS request one render causes,
 * times its list price. Pure: the prices and the assumptions are plain data, so `kiln cost` can
 * print both and anyone can change either.
 */

/**
 * us-east-1 on-demand list prices in USD, first pricing tier, no free tier, as published on the AWS
 * pricing pages for Lambda, SQS, DynamoDB (after the November 2024 on-demand reduction), S3 Standard,
 * API Gateway, CloudFront and CloudWatch Logs; checked 2026-11. Edit here when they change.
 */
export const AWS_PRICES = {
  lambda: {
    /** Per GB-second of duration, x86_64 (Kiln's architecture). */
    gbSecond: 0.000_016_666_7,
    perRequest: 0.2 / 1e6,
  },
  /** Standard queue; every 64 KB chunk of a request counts as one request. */
  sqs: { perRequest: 0.4 / 1e6 },
  dynamodb: {
    /** On-demand: one unit writes 1 KB of item (the larger of before and after, for updates). */
    perWriteRequestUnit: 0.625 / 1e6,
    /** On-demand: one unit reads 4 KB strongly consistently (half a unit eventually). */
    perReadRequestUnit: 0.125 / 1e6,
    storageGbMonth: 0.25,
    /** Storage is billed on the items' sizes plus this much per item. */
    storageBytesPerItem: 100,
  },
  s3: {
    perPut: 0.005 / 1000,
    perGet: 0.0004 / 1000,
    storageGbMonth: 0.023,
  },
  /** Kiln's API is an API Gateway REST API. */
  apiGateway: { perRequest: 3.5 / 1e6 },
  cloudFront: {
    perHttpsRequest: 0.01 / 10_000,
    /** Data transfer out to the internet, United States and Europe. */
    perGbOut: 0.085,
  },
  cloudWatchLogs: { perGbIngested: 0.5 },
} as const;

export type AwsPrices = typeof AWS_PRICES;

/** Lambda gives a function one vCPU's worth of CPU time at this much memory, more or less in proportion. */
export const LAMBDA_MB_PER_VCPU = 1769;

/** Everything about one render that drives its cost. Sizes in bytes, durations in milliseconds. */
export interface CostAssumptions {
  /** Worker memory, which also sets its CPU share. */
  readonly workerMemoryMb: number;
  /** Billed worker duration per render (a batch's duration shared by its records). */
  readonly workerBilledMsPerRender: number;
  /** Records per worker invocation: the SQS receive, delete and heartbeat are shared by a batch. */
  readonly batchSize: number;
  /** The api function: one invocation per API request. */
  readonly apiMemoryMb: number;
  readonly apiMsPerRequest: number;
  /**
   * POST /v1/renders per render: 1 for a single render; 0 for a batch record, whose job the fan-out
   * function creates (the batch's one POST is shared by all its records).
   */
  readonly submissionsPerRender: number;
  /** The fan-out function's time per batch record (creating its job and queueing it); 0 for single renders. */
  readonly fanOutMemoryMb: number;
  readonly fanOutMsPerRecord: number;
  /** Stored assets the request names: each is one HEAD at submission, for the render-cache key. */
  readonly assetsPerRender: number;
  /** The render-cache entry the worker writes after a render: key, output, provenance, TTL. */
  readonly renderCacheEntryBytes: number;
  /** The signer function: one invocation per status read of a succeeded job (it signs the URL). */
  readonly signerMemoryMb: number;
  readonly signerMsPerInvocation: number;
  /** GET /v1/renders/{id} per render (1 with a webhook or a patient client; more with eager polling). */
  readonly statusReads: number;
  /**
   * The request as stored (compact JSON). Up to `inlineRequestBytes` it is kept in the jobs table,
   * in a request item of its own beside the job item: written once, compressed, and read once by the
   * worker. Larger requests go to the payload bucket (one PUT, one GET by the worker).
   */
  readonly requestBytes: number;
  readonly inlineRequestBytes: number;
  /** Compressed over JSON size of a request in its request item (brotli). */
  readonly requestCompression: number;
  /** The request item besides the compressed request: keys, attribute names, TTL. */
  readonly requestItemOverheadBytes: number;
  /**
   * The job item at its largest, once succeeded: keys, status, timestamps, correlation id, output,
   * TTL. It does not hold the request, so its writes stay at one unit.
   */
  readonly jobItemBytes: number;
  /** Writes of the job item per render: create, start (lease), succeeded. */
  readonly jobWrites: number;
  /**
   * Share of submissions that carry an Idempotency-Key (the typed client and the CLI send one with
   * every submission): each claims the key with one conditional put of a small item, kept 24 hours.
   */
  readonly idempotencyKeyShare: number;
  /** The idempotency item: hashed key, fingerprint, job id, times, TTL. */
  readonly idempotencyItemBytes: number;
  /**
   * Reads of the API key item per API request: at most one, as here; a warm API container keeps a
   * key it found for 30 s, so under steady traffic nearly none.
   */
  readonly apiKeyReadsPerRequest: number;
  /** SQS requests per render: the API's send. */
  readonly sqsSendsPerRender: number;
  /** SQS requests per batch: receive, delete, visibility heartbeat. */
  readonly sqsRequestsPerBatch: number;
  readonly outputBytes: number;
  /** Downloads of each output through CloudFront. 0 when outputs are only stored. */
  readonly deliveries: number;
  /** Share of deliveries CloudFront serves from its cache without asking S3. */
  readonly cacheHitRatio: number;
  /** How long outputs and job items are kept; storage is charged for that long. */
  readonly retentionDays: number;
  /** CloudWatch Logs written per render by the three functions. */
  readonly logBytesPerRender: number;
}

/**
 * The defaults: Kiln's deployed configuration and the invoice example's sizes (`kiln bench`). The
 * item sizes are the invoice PNG job's as DynamoDB counts them (attribute names + values), for
 * tenant `acme`, measured against the DynamoDB stand-in (test/integration/job-store-contract.test.ts
 * checks the units they come to).
 */
export const DEFAULT_ASSUMPTIONS: CostAssumptions = {
  workerMemoryMb: renderWorkerFunction.memorySize,
  workerBilledMsPerRender: 135,
  batchSize: renderWorkerFunction.eventSource.batchSize,
  apiMemoryMb: apiFunction.memorySize,
  apiMsPerRequest: 40,
  submissionsPerRender: 1,
  fanOutMemoryMb: batchFanOutFunction.memorySize,
  fanOutMsPerRecord: 0,
  assetsPerRender: 0,
  renderCacheEntryBytes: 980,
  signerMemoryMb: signAssetsFunction.memorySize,
  signerMsPerInvocation: 20,
  statusReads: 1,
  /** examples/invoice/job.png.json as stored: 5,552 bytes of compact JSON (the file is 6.4 KB pretty-printed). */
  requestBytes: 5_552,
  inlineRequestBytes: LIMITS.inlineRequestBytes,
  /** 5,552 → 1,946 bytes. */
  requestCompression: 0.3505,
  requestItemOverheadBytes: 92,
  jobItemBytes: 463,
  jobWrites: 3,
  idempotencyKeyShare: 1,
  idempotencyItemBytes: 330,
  apiKeyReadsPerRequest: 1,
  sqsSendsPerRender: 1,
  sqsRequestsPerBatch: 3,
  outputBytes: 105_460,
  deliveries: 1,
  cacheHitRatio: 0,
  retentionDays: 30,
  logBytesPerRender: 1_500,
};

/**
 * The fan-out function's time per batch record: a chunk of 250 records is 500 puts (request item and
 * job item) and 25 SendMessageBatch calls, issued concurrently. An estimate, not a measurement: the
 * bench does not run batches.
 */
export const FAN_OUT_MS_PER_RECORD = 4;

/**
 * One record of a batch: its job is created by the fan-out function, which queues messages ten to a
 * request; no POST, no Idempotency-Key, no render-cache lookup, no status read (the batch's manifest
 * carries every output). Its render is a single render's.
 */
export function batchRecordAssumptions(a: CostAssumptions): CostAssumptions {
  return {
    ...a,
    submissionsPerRender: 0,
    statusReads: 0,
    idempotencyKeyShare: 0,
    sqsSendsPerRender: 0.1,
    fanOutMsPerRecord: FAN_OUT_MS_PER_RECORD,
  };
}

export interface CostLine {
  readonly service: "Lambda" | "SQS" | "DynamoDB" | "S3" | "API Gateway" | "CloudFront" | "CloudWatch Logs";
  readonly item: string;
  /** How many units one render uses. */
  readonly perRender: number;
  readonly unit: string;
  readonly unitPrice: number;
  /** USD per 1,000 renders. */
  readonly per1000: number;
}

export interface CostEstimate {
  readonly lines: readonly CostLine[];
  /** USD per 1,000 renders, all lines. */
  readonly per1000: number;
  /** USD per 1,000 renders without delivery (CloudFront and the S3 reads behind it). */
  readonly per1000WithoutDelivery: number;
  readonly byService: Readonly<Record<CostLine["service"], number>>;
}

const GB = 1024 ** 3;
const KB = 1024;
const DAYS_PER_MONTH = 30;

/**
 * Billed worker milliseconds per render when the worker is busy: its CPU time spread over the
 * vCPUs its memory buys, divided by how much of an invocation the CPU is actually busy (the rest
 * waits on DynamoDB and S3, or on the last record of a batch).
 */
export function workerBilledMs(options: {
  cpuMsPerRender: number;
  memoryMb: number;
  utilization: number;
}): number {
  const { cpuMsPerRender, memoryMb, utilization } = options;
  if (!(cpuMsPerRender >= 0) || !(memoryMb > 0) || !(utilization > 0 && utilization <= 1)) {
    throw new RangeError("cpuMsPerRender ≥ 0, memoryMb > 0 and 0 < utilization ≤ 1 are required.");
  }
  const vcpus = Math.min(6, memoryMb / LAMBDA_MB_PER_VCPU);
  return cpuMsPerRender / vcpus / utilization;
}

/** Request units one DynamoDB write or strongly consistent read of `bytes` consumes. */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / KB));
export const readUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / (4 * KB)));

const costLine = (
  service: CostLine["service"],
  item: string,
  perRender: number,
  unit: string,
  unitPrice: number,
): CostLine => ({ service, item, perRender, unit, unitPrice, per1000: perRender * unitPrice * 1000 });

const gbSeconds = (memoryMb: number, ms: number) => (memoryMb / 1024) * (ms / 1000);

/** The cost of one render, line by line, at `prices`. */
export function estimateCost(assumptions: CostAssumptions, prices: AwsPrices = AWS_PRICES): CostEstimate {
  const a = assumptions;
  for (const [name, value] of Object.entries(a)) {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`${name} must be a number ≥ 0, not ${value}.`);
  }
  if (a.batchSize < 1) throw new RangeError("batchSize must be at least 1.");
  if (a.cacheHitRatio > 1) throw new RangeError("cacheHitRatio must be between 0 and 1.");
  if (a.idempotencyKeyShare > 1) throw new RangeError("idempotencyKeyShare must be between 0 and 1.");

  const apiRequests = a.submissionsPerRender + a.statusReads;
  const inline = a.requestBytes <= a.inlineRequestBytes;
  const requestItemBytes = inline ? requestItemSize(a) : 0;
  const storedBytes =
    a.jobItemBytes + (inline ? requestItemBytes : 0) + (inline ? 2 : 1) * prices.dynamodb.storageBytesPerItem;
  const monthsKept = a.retentionDays / DAYS_PER_MONTH;
  const line = costLine;

  const lines: CostLine[] = [
    line(
      "Lambda",
      `worker duration (${a.workerMemoryMb} MB × ${round(a.workerBilledMsPerRender, 1)} ms)`,
      gbSeconds(a.workerMemoryMb, a.workerBilledMsPerRender),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    line(
      "Lambda",
      `worker invocations (1 per batch of ${a.batchSize})`,
      1 / a.batchSize,
      "request",
      prices.lambda.perRequest,
    ),
    line(
      "Lambda",
      `api duration (${apiRequests} requests × ${a.apiMemoryMb} MB × ${a.apiMsPerRequest} ms)`,
      apiRequests * gbSeconds(a.apiMemoryMb, a.apiMsPerRequest),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    line("Lambda", "api invocations (POST + status reads)", apiRequests, "request", prices.lambda.perRequest),
    line(
      "Lambda",
      `fan-out duration (${a.fanOutMemoryMb} MB × ${a.fanOutMsPerRecord} ms per batch record)`,
      gbSeconds(a.fanOutMemoryMb, a.fanOutMsPerRecord),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    line(
      "Lambda",
      `signer duration (${a.statusReads} × ${a.signerMemoryMb} MB × ${a.signerMsPerInvocation} ms)`,
      a.statusReads * gbSeconds(a.signerMemoryMb, a.signerMsPerInvocation),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    line(
      "Lambda",
      "signer invocations (1 per status read)",
      a.statusReads,
      "request",
      prices.lambda.perRequest,
    ),
    line(
      "API Gateway",
      "REST API requests (POST + status reads)",
      apiRequests,
      "request",
      prices.apiGateway.perRequest,
    ),
    line(
      "SQS",
      "send (API, or the fan-out's batches of 10)",
      a.sqsSendsPerRender,
      "request",
      prices.sqs.perRequest,
    ),
    line(
      "SQS",
      `receive, delete, heartbeat (${a.sqsRequestsPerBatch} per batch)`,
      a.sqsRequestsPerBatch / a.batchSize,
      "request",
      prices.sqs.perRequest,
    ),
    line(
      "DynamoDB",
      `request item write (once, ${writeUnits(requestItemBytes)} WRU for ${round(requestItemBytes / KB, 1)} KB: the ${round(a.requestBytes / KB, 1)} KB request compressed)`,
      inline ? writeUnits(requestItemBytes) : 0,
      "WRU",
      prices.dynamodb.perWriteRequestUnit,
    ),
    line(
      "DynamoDB",
      `job writes (${a.jobWrites} × ${writeUnits(a.jobItemBytes)} WRU for a ${round(a.jobItemBytes / KB, 1)} KB item)`,
      a.jobWrites * writeUnits(a.jobItemBytes),
      "WRU",
      prices.dynamodb.perWriteRequestUnit,
    ),
    line(
      "DynamoDB",
      // Each job write changes updatedAt, the open-jobs index's sort key (the last one removes the job
      // from it): one index write of a keys-only item each.
      `open-jobs index writes (${a.jobWrites} × 1 WRU, keys only)`,
      a.jobWrites,
      "WRU",
      prices.dynamodb.perWriteRequestUnit,
    ),
    line(
      "DynamoDB",
      `idempotency key claims (${round(a.idempotencyKeyShare, 2)} × ${writeUnits(a.idempotencyItemBytes)} WRU for a ${round(a.idempotencyItemBytes / KB, 1)} KB item)`,
      a.idempotencyKeyShare * writeUnits(a.idempotencyItemBytes),
      "WRU",
      prices.dynamodb.perWriteRequestUnit,
    ),
    line(
      "DynamoDB",
      `reads: API key per request, job per status read (consistent)`,
      apiRequests * a.apiKeyReadsPerRequest + a.statusReads * readUnits(a.jobItemBytes),
      "RRU",
      prices.dynamodb.perReadRequestUnit,
    ),
    line(
      "DynamoDB",
      // A submission reads the tenant's settings and the entry (eventually consistent: half a unit each).
      `render-cache lookup at submission (settings + entry, ${a.submissionsPerRender} × 2 × 0.5 RRU)`,
      a.submissionsPerRender,
      "RRU",
      prices.dynamodb.perReadRequestUnit,
    ),
    line(
      "DynamoDB",
      `render-cache entry write by the worker (${writeUnits(a.renderCacheEntryBytes)} WRU)`,
      writeUnits(a.renderCacheEntryBytes),
      "WRU",
      prices.dynamodb.perWriteRequestUnit,
    ),
    line(
      "S3",
      `asset HEADs at submission, for the render-cache key (${a.assetsPerRender} per submission)`,
      a.submissionsPerRender * a.assetsPerRender,
      "request",
      prices.s3.perGet,
    ),
    line(
      "DynamoDB",
      "request read by the worker (one consistent read of the request item)",
      inline ? readUnits(requestItemBytes) : 0,
      "RRU",
      prices.dynamodb.perReadRequestUnit,
    ),
    line(
      "DynamoDB",
      `job and request item storage for ${a.retentionDays} days`,
      (storedBytes / GB) * monthsKept,
      "GB-month",
      prices.dynamodb.storageGbMonth,
    ),
    line(
      "S3",
      "request payload PUT (bodies too large for the jobs table)",
      inline ? 0 : 1,
      "request",
      prices.s3.perPut,
    ),
    line("S3", "request payload GET by the worker", inline ? 0 : 1, "request", prices.s3.perGet),
    line("S3", "output PUT", 1, "request", prices.s3.perPut),
    line(
      "S3",
      `output storage for ${a.retentionDays} days`,
      (a.outputBytes / GB) * monthsKept,
      "GB-month",
      prices.s3.storageGbMonth,
    ),
    line(
      "S3",
      `GETs behind CloudFront misses (${a.deliveries} × ${round(1 - a.cacheHitRatio, 2)})`,
      a.deliveries * (1 - a.cacheHitRatio),
      "request",
      prices.s3.perGet,
    ),
    line(
      "CloudFront",
      `HTTPS requests (${a.deliveries} deliveries)`,
      a.deliveries,
      "request",
      prices.cloudFront.perHttpsRequest,
    ),
    line(
      "CloudFront",
      `data out (${a.deliveries} × ${round(a.outputBytes / KB, 1)} KB)`,
      (a.deliveries * a.outputBytes) / GB,
      "GB",
      prices.cloudFront.perGbOut,
    ),
    line(
      "CloudWatch Logs",
      "log ingestion",
      a.logBytesPerRender / GB,
      "GB",
      prices.cloudWatchLogs.perGbIngested,
    ),
  ];

  return summarizeLines(lines, lines.filter(isDelivery));
}

/** A line of delivering the output to its downloader: CloudFront, and the S3 reads behind its misses. */
export function isDelivery(line: CostLine): boolean {
  return line.service === "CloudFront" || line.item.startsWith("GETs behind");
}

function summarizeLines(lines: readonly CostLine[], delivery: readonly CostLine[]): CostEstimate {
  const byService = {
    Lambda: 0,
    SQS: 0,
    DynamoDB: 0,
    S3: 0,
    "API Gateway": 0,
    CloudFront: 0,
    "CloudWatch Logs": 0,
  } satisfies Record<CostLine["service"], number>;
  for (const l of lines) byService[l.service] += l.per1000;
  const per1000 = lines.reduce((sum, l) => sum + l.per1000, 0);
  return {
    lines,
    per1000,
    per1000WithoutDelivery: per1000 - delivery.reduce((sum, l) => sum + l.per1000, 0),
    byService,
  };
}

/**
 * One submission served from the render cache: the API request, the lookup, the job (request item
 * and a job item created succeeded, so no index write), and the output URL signed for the answer. No
 * queue message, worker or S3 PUT; the output it shares is already stored.
 */
export function estimateCacheHit(assumptions: CostAssumptions, prices: AwsPrices = AWS_PRICES): CostEstimate {
  const a = assumptions;
  const inline = a.requestBytes <= a.inlineRequestBytes;
  const requestItemBytes = inline ? requestItemSize(a) : 0;
  const storedBytes =
    a.jobItemBytes + requestItemBytes + (inline ? 2 : 1) * prices.dynamodb.storageBytesPerItem;
  const lines: CostLine[] = [
    costLine("API Gateway", "REST API request (the POST)", 1, "request", prices.apiGateway.perRequest),
    costLine("Lambda", "api invocation", 1, "request", prices.lambda.perRequest),
    costLine(
      "Lambda",
      `api duration (${a.apiMemoryMb} MB × ${a.apiMsPerRequest} ms)`,
      gbSeconds(a.apiMemoryMb, a.apiMsPerRequest),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    costLine(
      "Lambda",
      "signer invocation (the output URL in the answer)",
      1,
      "request",
      prices.lambda.perRequest,
    ),
    costLine(
      "Lambda",
      `signer duration (${a.signerMemoryMb} MB × ${a.signerMsPerInvocation} ms)`,
      gbSeconds(a.signerMemoryMb, a.signerMsPerInvocation),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    costLine(
      "DynamoDB",
      "reads: API key, settings + entry (eventually consistent)",
      a.apiKeyReadsPerRequest + 1,
      "RRU",
      prices.dynamodb.perReadRequestUnit,
    ),
    costLine(
      "DynamoDB",
      `writes: Idempotency-Key claim, request item, succeeded job item`,
      a.idempotencyKeyShare * writeUnits(a.idempotencyItemBytes) +
        (inline ? writeUnits(requestItemBytes) : 0) +
        writeUnits(a.jobItemBytes),
      "WRU",
      prices.dynamodb.perWriteRequestUnit,
    ),
    costLine(
      "DynamoDB",
      `job and request item storage for ${a.retentionDays} days`,
      (storedBytes / GB) * (a.retentionDays / DAYS_PER_MONTH),
      "GB-month",
      prices.dynamodb.storageGbMonth,
    ),
    costLine("S3", "request payload PUT (large bodies only)", inline ? 0 : 1, "request", prices.s3.perPut),
    costLine("S3", `asset HEADs (${a.assetsPerRender})`, a.assetsPerRender, "request", prices.s3.perGet),
    costLine(
      "CloudWatch Logs",
      "log ingestion (the api's lines)",
      a.logBytesPerRender / 3 / GB,
      "GB",
      prices.cloudWatchLogs.perGbIngested,
    ),
  ];
  return summarizeLines(lines, []);
}

/** A mix of rendered submissions and cache hits: `hitRatio` of them hits. */
export function blendWithCacheHits(rendered: number, hit: number, hitRatio: number): number {
  if (!(hitRatio >= 0 && hitRatio <= 1)) throw new RangeError("hitRatio must be between 0 and 1.");
  return (1 - hitRatio) * rendered + hitRatio * hit;
}

/**
 * Where `per1000` goes over `target`: the lines, largest first, each with what the total would be
 * without it and every larger one, until the rest is under the target.
 */
export function overTarget(
  lines: readonly CostLine[],
  per1000: number,
  target: number,
): Array<{ readonly line: CostLine; readonly without: number }> {
  const out: Array<{ line: CostLine; without: number }> = [];
  let left = per1000;
  for (const line of [...lines].sort((x, y) => y.per1000 - x.per1000)) {
    if (left <= target || line.per1000 <= 0) break;
    left -= line.per1000;
    out.push({ line, without: left });
  }
  return out;
}

/** How a client learns that its render has ended: what that costs one way and the other. */
export interface WaitComparison {
  /** From the submission to the job's end. */
  readonly renderSeconds: number;
  readonly pollIntervalSeconds: number;
  /** The submission waits (`Prefer: wait`): the api function is held meanwhile and reads the job. */
  readonly waited: readonly CostLine[];
  /** The submission answers at once, then `GET /v1/renders/{id}` every `pollIntervalSeconds`. */
  readonly polled: readonly CostLine[];
  /** USD per 1,000 renders, beyond the submission both ways make. */
  readonly waitedPer1000: number;
  readonly polledPer1000: number;
}

/**
 * Job reads a waiting request makes until it sees a job that ended `renderMs` after the submission
 * (the first read follows the first pause: the record in hand is the queued job).
 */
export function waitedJobReads(renderMs: number): number {
  let elapsed = 0;
  let reads = 0;
  for (const delay of waitSchedule(renderMs + RENDER_WAIT.maxDelayMs)) {
    elapsed += delay;
    reads++;
    if (elapsed >= renderMs) break;
  }
  return reads;
}

/**
 * A waited render against a polled one, counting only what differs from a plain submission: held
 * api duration and the job reads of the wait, against one API Gateway request, api invocation, API
 * key read and job read per poll. Both end with the output URL signed once.
 */
export function compareWaitWithPolling(
  assumptions: CostAssumptions,
  renderSeconds: number,
  pollIntervalSeconds: number,
  prices: AwsPrices = AWS_PRICES,
): WaitComparison {
  if (!(renderSeconds >= 0 && renderSeconds <= RENDER_WAIT.maxSeconds))
    throw new RangeError(`renderSeconds must be from 0 to ${RENDER_WAIT.maxSeconds} (the longest wait).`);
  if (!(pollIntervalSeconds > 0)) throw new RangeError("pollIntervalSeconds must be above 0.");
  const a = assumptions;
  const jobRead = readUnits(a.jobItemBytes);
  const signing = [
    costLine("Lambda", "signer invocation (the output URL)", 1, "request", prices.lambda.perRequest),
    costLine(
      "Lambda",
      `signer duration (${a.signerMemoryMb} MB × ${a.signerMsPerInvocation} ms)`,
      gbSeconds(a.signerMemoryMb, a.signerMsPerInvocation),
      "GB-s",
      prices.lambda.gbSecond,
    ),
  ];
  const reads = waitedJobReads(renderSeconds * 1000);
  const waited = [
    costLine(
      "Lambda",
      `api held during the wait (${a.apiMemoryMb} MB × ${renderSeconds} s)`,
      gbSeconds(a.apiMemoryMb, renderSeconds * 1000),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    costLine(
      "DynamoDB",
      `job reads during the wait (${reads} consistent × ${jobRead} RRU)`,
      reads * jobRead,
      "RRU",
      prices.dynamodb.perReadRequestUnit,
    ),
    ...signing,
  ];
  // The poll that sees the job ended is the last.
  const polls = Math.max(1, Math.ceil(renderSeconds / pollIntervalSeconds));
  const polled = [
    costLine(
      "API Gateway",
      `REST API requests (${polls} polls)`,
      polls,
      "request",
      prices.apiGateway.perRequest,
    ),
    costLine("Lambda", `api invocations (${polls} polls)`, polls, "request", prices.lambda.perRequest),
    costLine(
      "Lambda",
      `api duration (${polls} × ${a.apiMemoryMb} MB × ${a.apiMsPerRequest} ms)`,
      polls * gbSeconds(a.apiMemoryMb, a.apiMsPerRequest),
      "GB-s",
      prices.lambda.gbSecond,
    ),
    costLine(
      "DynamoDB",
      `API key and job reads (${polls} × (${a.apiKeyReadsPerRequest} + ${jobRead}) RRU)`,
      polls * (a.apiKeyReadsPerRequest + jobRead),
      "RRU",
      prices.dynamodb.perReadRequestUnit,
    ),
    ...signing,
  ];
  const total = (lines: readonly CostLine[]) => lines.reduce((sum, l) => sum + l.per1000, 0);
  return {
    renderSeconds,
    pollIntervalSeconds,
    waited,
    polled,
    waitedPer1000: total(waited),
    polledPer1000: total(polled),
  };
}

/** The request item of a request kept in the jobs table: the compressed request, its keys and TTL. */
export function requestItemSize(a: CostAssumptions): number {
  return Math.ceil(a.requestBytes * a.requestCompression) + a.requestItemOverheadBytes;
}

/** USD per month at `rendersPerDay`, with storage at its steady state (`retentionDays` of outputs kept). */
export function monthlyCost(estimate: CostEstimate, rendersPerDay: number): number {
  if (!(rendersPerDay >= 0)) throw new RangeError("rendersPerDay must be a number ≥ 0.");
  return (estimate.per1000 / 1000) * rendersPerDay * DAYS_PER_MONTH;
}

/**
 * Costs that do not scale with renders: Lambda's SQS event source mappings long-poll their queue
 * even when it is empty (about five pollers, one 20 s receive each at a time) — Kiln has two.
 */
export function idleMonthlyCost(prices: AwsPrices = AWS_PRICES, mappings = 2): number {
  const receivesPerMonth = mappings * 5 * (86_400 / 20) * DAYS_PER_MONTH;
  return receivesPerMonth * prices.sqs.perRequest;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
