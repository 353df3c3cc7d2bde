import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./loopback.js";

/**
 * A proxy in front of a stand-in that answers a share of the requests the way a throttled AWS service
 * does, on the wire: the real SDK clients see real throttling responses and apply their own retry
 * logic (backoff, retry quota) before Kiln's code sees an error. Test-only: the local stack puts it in
 * front of dynalite and of fauxqs's S3 when `KILN_FAULTS` has `throttle`.
 */
export type ThrottledService = "dynamodb" | "s3";

export interface ThrottlingProxyOptions {
  /** `http://127.0.0.1:<port>` of the stand-in. */
  readonly target: string;
  readonly service: ThrottledService;
  /** Share of the service's requests (0–1) answered with a throttling response. */
  readonly share: number;
  /** Draws in [0, 1). */
  readonly random: () => number;
  /** Called for every throttled request. */
  readonly onThrottle?: () => void;
}

export interface ThrottlingProxy {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** fauxqs serves SQS and S3 on one port; SQS requests (AWS JSON protocol) name their operation in a header. */
function isSqs(req: IncomingMessage): boolean {
  return String(req.headers["x-amz-target"] ?? "").startsWith("AmazonSQS.");
}

/** The two throttling errors DynamoDB answers with (HTTP 400, AWS JSON 1.0), alternately. */
function dynamoDbThrottle(draw: number) {
  const type = draw < 0.5 ? "ProvisionedThroughputExceededException" : "ThrottlingException";
  const message =
    type === "ThrottlingException"
      ? "Rate of requests exceeds the allowed throughput."
      : "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.";
  return {
    status: 400,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }),
  };
}

/** S3's throttling answer: HTTP 503 with an XML error body. */
function s3SlowDown() {
  return {
    status: 503,
    headers: { "content-type": "application/xml" },
    body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
  };
}

export async function startThrottlingProxy(options: ThrottlingProxyOptions): Promise<ThrottlingProxy> {
  const target = new URL(options.target);
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // The stand-in is down (killed, restarting): the client sees its connection drop, as it would
    // talking to the stand-in itself.
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    const throttled =
      !(options.service === "s3" && isSqs(req)) && options.share > 0 && options.random() < options.share;
    if (!throttled) {
      forward(req, res);
      return;
    }
    options.onThrottle?.();
    const answer = options.service === "dynamodb" ? dynamoDbThrottle(options.random()) : s3SlowDown();
    // Read the request to its end first, as a server does before it answers an upload.
    req.resume();
    req.on("end", () => {
      res.writeHead(answer.status, { ...answer.headers, "content-length": Buffer.byteLength(answer.body) });
      res.end(answer.body);
    });
  });
  const { url, stop } = await listenOnLoopback(server, 0);
  return { endpoint: url, stop };
}
