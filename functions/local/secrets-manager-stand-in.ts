import { AwsJsonError, startAwsJsonServer } from "./aws-json-protocol.js";

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
  const { url, stop } = await startAwsJsonServer((target, input) => {
    if (target !== "secretsmanager.GetSecretValue") {
      throw new AwsJsonError("InvalidRequestException", "Only GetSecretValue is served locally.");
    }
    calls += 1;
    const secretId = String(input.SecretId);
    const stage = input.VersionStage === undefined ? "AWSCURRENT" : String(input.VersionStage);
    const secret = (stage === "AWSCURRENT" ? secrets : stage === "AWSPREVIOUS" ? previous : new Map()).get(
      secretId,
    );
    if (failures > 0 || secret === undefined) {
      failures = Math.max(0, failures - 1);
      throw new AwsJsonError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    }
    return {
      ARN: secretId,
      Name: secretId.split(":").at(-1),
      SecretString: secret,
      VersionId: `local-${stage.toLowerCase()}`,
      VersionStages: [stage],
      CreatedDate: Date.now() / 1000,
    };
  });
  return {
    endpoint: url,
    calls: () => calls,
    failNext: (n) => {
      failures = n;
    },
    stop,
  };
}
