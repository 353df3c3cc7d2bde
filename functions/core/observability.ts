/**
 * The names operators query by: the correlation id that follows a render from the API request to the
 * worker and into its webhook, and the metrics the functions emit. The CDK alarms and dashboard import
 * these, so they point at what is really published.
 */

/** Request and response header of the API, and the header of webhook deliveries. */
export const CORRELATION_ID_HEADER = "x-correlation-id";

/** Short, and only characters that are safe in a header, a log line and a query. */
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function isValidCorrelationId(value: string): boolean {
  return CORRELATION_ID.test(value);
}

/**
 * The caller's correlation id when it is acceptable, otherwise `fallback` (the API Gateway request
 * id): a bad header is replaced, never an error, so tracing can't make a request fail.
 */
export function correlationIdFrom(header: string | undefined, fallback: string): string {
  const candidate = header?.trim();
  return candidate && isValidCorrelationId(candidate) ? candidate : fallback;
}

/** Where metrics go in CloudWatch: one namespace, the function's `service` dimension on every metric. */
export const METRICS = {
  namespace: "Kiln",
  /** Dimension every metric carries: the function's Powertools service name. */
  serviceDimension: "service",
  /** Worker, per render that succeeded; dimensions [service] and [service, format]. Milliseconds. */
  renderDuration: "RenderDuration",
  /** Worker: from the message being sent to its render starting. Milliseconds. */
  queueWait: "QueueWait",
  /** Worker, per render that succeeded; Bytes. */
  outputBytes: "OutputBytes",
  /** Worker, per job that failed for good; dimensions [service] and [service, code]. Count. */
  renderFailures: "RenderFailures",
  /** Api, per job served from the render cache; dimensions [service] and [service, format]. Count. */
  renderCacheHits: "RenderCacheHits",
  /** Dispatcher, per delivery attempt; dimensions [service] and [service, outcome]. Count. */
  webhookDeliveries: "WebhookDeliveries",
  /** Reconciler, per run and action; dimensions [service] and [service, action]. Count. */
  reconciledJobs: "ReconciledJobs",
  actionDimension: "action",
  formatDimension: "format",
  codeDimension: "code",
  outcomeDimension: "outcome",
} as const;

/** Powertools service names of the functions: the `service` of every log line and metric. */
export const SERVICES = {
  api: "api",
  renderWorker: "render-worker",
  signAssets: "sign-assets",
  webhookDispatcher: "webhook-dispatcher",
  batchFanOut: "batch-fanout",
  reconciler: "reconciler",
} as const;

/** The standard Powertools variables, set on every function by the CDK. */
export const POWERTOOLS_ENV = {
  serviceName: "POWERTOOLS_SERVICE_NAME",
  logLevel: "POWERTOOLS_LOG_LEVEL",
  sampleRate: "POWERTOOLS_LOGGER_SAMPLE_RATE",
  metricsNamespace: "POWERTOOLS_METRICS_NAMESPACE",
} as const;
