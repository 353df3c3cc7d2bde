import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface SecretsManagerStandIn {
  readonly endpoint: string;
  /** GetSecretValue requests received so far. */
  readonly calls: () => number;
  /** The next `n` requests answer ResourceNotFoundException, as if the secret were not there yet. */
  failNext(n: number): void;
  stop(): Promise<void>;
}

/**
 * Just enough of the Secrets Manager JSON protocol (GetSecretValue) for the real
 * SecretsManagerClient, so the key loader is tested against the wire format rather than a mock.
 */
export async function startSecretsManagerStandIn(
  secrets: Readonly<Record<string, string>>,
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
        reply(400, { __type: "InvalidRequestException", message: "Only GetSecretValue is served." });
        return;
      }
      calls += 1;
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { SecretId: string };
      const secret = Object.hasOwn(secrets, SecretId) ? secrets[SecretId] : undefined;
      if (failures > 0 || secret === undefined) {
        failures = Math.max(0, failures - 1);
        reply(400, {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      reply(200, {
        ARN: SecretId,
        Name: SecretId,
        SecretString: secret,
        VersionId: "v1",
        VersionStages: ["AWSCURRENT"],
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls: () => calls,
    failNext: (n) => {
      failures = n;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
