import { createServer } from "node:http";
import { listenOnLoopback } from "./loopback.js";

export interface SecretsManagerStandIn {
  /** `http://127.0.0.1:<port>`, for the client's endpoint (AWS_ENDPOINT_URL_SECRETS_MANAGER). */
  readonly endpoint: string;
  /** GetSecretValue requests received so far. */
  readonly calls: () => number;
  /** The next `n` requests answer ResourceNotFoundException, as if the secret were not there yet. */
  failNext(n: number): void;
  stop(): Promise<void>;
}

/**
 * GetSecretValue over Secrets Manager's JSON protocol (x-amz-json-1.1), for secrets by ARN or name: the
 * one call Kiln's signer makes. No Secrets Manager stand-in package exists; this lets the real
 * SecretsManagerClient read a locally generated key over the wire, unchanged. `secrets` holds each
 * secret's AWSCURRENT value, `previous` its AWSPREVIOUS one (what the value was before it was replaced).
 */
export async function startSecretsManagerStandIn(
  secrets: ReadonlyMap<string, string>,
  previous: ReadonlyMap<string, string> = new Map(),
): Promise<SecretsManagerStandIn> {
  let calls = 0;
  let failures = 0;
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
      if (req.headers["x-amz-target"] !== "secretsmanager.GetSecretValue") {
        reply(400, { __type: "InvalidRequestException", message: "Only GetSecretValue is served locally." });
        return;
      }
      calls += 1;
      let secretId = "";
      let stage = "AWSCURRENT";
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          SecretId?: unknown;
          VersionStage?: unknown;
        };
        secretId = String(body.SecretId);
        if (body.VersionStage !== undefined) stage = String(body.VersionStage);
      } catch {
        reply(400, { __type: "SerializationException", message: "The body is not JSON." });
        return;
      }
      const secret = (stage === "AWSCURRENT" ? secrets : stage === "AWSPREVIOUS" ? previous : new Map()).get(
        secretId,
      );
      if (failures > 0 || secret === undefined) {
        failures = Math.max(0, failures - 1);
        reply(400, {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      reply(200, {
        ARN: secretId,
        Name: secretId.split(":").at(-1),
        SecretString: secret,
        VersionId: `local-${stage.toLowerCase()}`,
        VersionStages: [stage],
        CreatedDate: Date.now() / 1000,
      });
    });
  });
  const { url, stop } = await listenOnLoopback(server, 0);
  return {
    endpoint: url,
    calls: () => calls,
    failNext: (n) => {
      failures = n;
    },
    stop,
  };
}
