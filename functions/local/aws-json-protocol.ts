import { createServer } from "node:http";
import { listenOnLoopback } from "./loopback.js";

/** An error a service answers with: HTTP 400 and `{ __type, message }`, as AWS's JSON protocol does. */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A loopback server for a service of AWS's JSON protocol (x-amz-json-1.1), which the real SDK client
 * talks to unchanged: each request's `x-amz-target` and parsed body go to `handle`, whose result is
 * the 200 answer; an AwsJsonError it throws is the 400 answer.
 */
export async function startAwsJsonServer(
  handle: (target: string, input: Record<string, unknown>) => unknown,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const reply = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          "content-type": "application/x-amz-json-1.1",
          "content-length": Buffer.byteLength(text),
        });
        res.end(text);
      };
      try {
        let input: Record<string, unknown>;
        try {
          input = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        } catch {
          throw new AwsJsonError("SerializationException", "The body is not JSON.");
        }
        reply(200, handle(String(req.headers["x-amz-target"] ?? ""), input));
      } catch (err) {
        if (!(err instanceof AwsJsonError)) throw err;
        reply(400, { __type: err.type, message: err.message });
      }
    });
  });
  return listenOnLoopback(server, 0);
}
