import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CloudFrontUrlSigner } from "../../functions/adapters/aws/cloudfront-url-signer.js";
import { LambdaUrlSigner, SignerFunctionError } from "../../functions/adapters/aws/lambda-url-signer.js";
import { secretsManagerPrivateKey } from "../../functions/adapters/aws/secrets-manager-private-key.js";
import { ENV, OUTPUTS } from "../../functions/core/constants.js";
import type { Clock } from "../../functions/core/ports.js";
import { makeHandler } from "../../functions/handlers/sign-assets/handler.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { type LocalEdge, startLocalEdge } from "../../functions/local/edge.js";
import {
  type LambdaInvokeServer,
  startLambdaInvokeServer,
} from "../../functions/local/lambda-invoke-server.js";
import {
  type SecretsManagerStandIn,
  startSecretsManagerStandIn,
} from "../../functions/local/secrets-manager-stand-in.js";
import { loadOrCreateSigningKeys, type SigningKeys } from "../../functions/local/signing-keys.js";
import { type SqsS3StandIn, startSqsS3StandIn } from "../../functions/local/stand-ins.js";

const BUCKET = "kiln-outputs";
const SIGNER = "kiln-sign-assets";
const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:kiln-url-signing-key";
const TENANT = "t1";
const PNG_KEY = `${OUTPUTS.keyPrefix}${TENANT}/3fa9c1.png`;
const PDF_KEY = `${OUTPUTS.keyPrefix}${TENANT}/77be02.pdf`;
/** The api's alias of the signer: what it may have signed is decided by this qualifier. */
const SIGNER_AS_API = `${SIGNER}:api`;
const PNG_BYTES = randomBytes(256 * 1024);

/** The signer's clock; moved back to mint URLs that have already expired. */
const signerClock: Clock & { offsetMs: number } = {
  offsetMs: 0,
  now() {
    return new Date(Date.now() + this.offsetMs);
  },
};

let dataDir: string;
let keys: SigningKeys;
let stand: SqsS3StandIn;
let s3: S3Client;
let edge: LocalEdge;
let invokeServer: LambdaInvokeServer;
let lambda: LambdaClient;
let signer: LambdaUrlSigner;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "kiln-edge-"));
  keys = await loadOrCreateSigningKeys(dataDir);
  stand = await startSqsS3StandIn({ port: 0 });
  s3 = new S3Client(localClientConfig(stand.endpoint));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: PNG_KEY,
      Body: PNG_BYTES,
      ContentType: "image/png",
      CacheControl: OUTPUTS.cacheControl,
    }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: PDF_KEY,
      Body: Buffer.from("%PDF-1.7 kiln"),
      ContentType: "application/pdf",
      CacheControl: OUTPUTS.cacheControl,
    }),
  );
  edge = await startLocalEdge({
    port: 0,
    routes: [{ pathPrefix: OUTPUTS.keyPrefix, bucket: BUCKET }],
    s3,
    trustedKeys: keys.keyGroup,
  });
  const signAssets = makeHandler({
    callerTtls: { api: 3600, "render-worker": 300 },
    signer: new CloudFrontUrlSigner({
      baseUrl: edge.url,
      keyPairId: keys.keyPairId,
      privateKeyPem: async () => keys.privateKeyPem,
      clock: signerClock,
      defaultTtlSeconds: 300,
    }),
  });
  invokeServer = await startLambdaInvokeServer({
    port: 0,
    functions: { [SIGNER]: signAssets },
    aliases: { [SIGNER]: ["api", "render-worker"] },
  });
  lambda = new LambdaClient(localClientConfig(invokeServer.endpoint));
  signer = new LambdaUrlSigner(lambda, SIGNER_AS_API);
});

afterAll(async () => {
  lambda?.destroy();
  s3?.destroy();
  await invokeServer?.stop();
  await edge?.stop();
  await stand?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function signOne(key: string, ttlSeconds?: number): Promise<string> {
  const [signed] = await signer.sign(TENANT, [key], ttlSeconds);
  if (!signed) throw new Error("the signer returned no URL");
  return signed.url;
}

function withParam(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

async function expectDenied(url: string, code = "AccessDenied") {
  const res = await fetch(url);
  expect(res.status).toBe(403);
  const body = await res.text();
  expect(body).toContain(`<Code>${code}</Code>`);
  expect(body).not.toMatch(/Error:|at |BEGIN|kiln-outputs/);
}

describe("local edge: CloudFront signed URLs from the signer function", () => {
  it("serves a signed output with its bytes, Content-Type, Content-Length, ETag and Cache-Control", async () => {
    const url = await signOne(PNG_KEY);
    expect(url.startsWith(`${edge.url}/${PNG_KEY}?`)).toBe(true);

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("cache-control")).toBe(OUTPUTS.cacheControl);
    expect(res.headers.get("content-length")).toBe(String(PNG_BYTES.length));
    expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/);
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG_BYTES)).toBe(true);
  });

  it("answers HEAD with the same headers and no body", async () => {
    const res = await fetch(await signOne(PDF_KEY), { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("cache-control")).toBe(OUTPUTS.cacheControl);
    expect(res.headers.get("content-length")).toBe("13");
    expect(await res.text()).toBe("");
  });

  it("signs several keys in one call", async () => {
    const urls = await signer.sign(TENANT, [PNG_KEY, PDF_KEY]);
    expect(urls.map((u) => u.key)).toEqual([PNG_KEY, PDF_KEY]);
    const statuses = await Promise.all(urls.map(async (u) => (await fetch(u.url)).status));
    expect(statuses).toEqual([200, 200]);
  });

  it("refuses an unsigned URL", async () => {
    await expectDenied(`${edge.url}/${PNG_KEY}`, "MissingKey");
  });

  it("refuses a tampered signature", async () => {
    const url = new URL(await signOne(PNG_KEY));
    const signature = url.searchParams.get("Signature") ?? "";
    const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`;
    await expectDenied(withParam(url.toString(), "Signature", flipped));
  });

  it("refuses a signature moved to another object's path", async () => {
    const url = await signOne(PNG_KEY);
    await expectDenied(url.replace(`/${PNG_KEY}?`, `/${PDF_KEY}?`));
  });

  it("refuses a pushed-back expiry", async () => {
    const url = new URL(await signOne(PNG_KEY));
    const later = String(Number(url.searchParams.get("Expires")) + 3600);
    await expectDenied(withParam(url.toString(), "Expires", later));
  });

  it("refuses an expired URL", async () => {
    signerClock.offsetMs = -2 * 3600 * 1000;
    try {
      const url = await signOne(PNG_KEY, 60);
      expect(Number(new URL(url).searchParams.get("Expires")) * 1000).toBeLessThan(Date.now());
      await expectDenied(url);
    } finally {
      signerClock.offsetMs = 0;
    }
  });

  it("refuses an unknown key pair id", async () => {
    await expectDenied(withParam(await signOne(PNG_KEY), "Key-Pair-Id", "KUNKNOWN000000"), "InvalidKey");
  });

  it("refuses a URL signed with a different private key under the trusted id", async () => {
    const other = await loadOrCreateSigningKeys(join(dataDir, "other"));
    const url = getSignedUrl({
      url: `${edge.url}/${PNG_KEY}`,
      keyPairId: keys.keyPairId,
      privateKey: other.privateKeyPem,
      dateLessThan: new Date(Date.now() + 60_000),
    });
    await expectDenied(url);
  });

  it("answers 404 for a validly signed key with no object", async () => {
    const res = await fetch(await signOne(`${OUTPUTS.keyPrefix}${TENANT}/missing.png`));
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("<Code>NoSuchKey</Code>");
  });

  it("answers 405 to methods other than GET and HEAD", async () => {
    const res = await fetch(await signOne(PNG_KEY), { method: "POST", body: "x" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  it("keeps the caller's own query parameters in the signed resource", async () => {
    const signed = getSignedUrl({
      url: `${edge.url}/${PNG_KEY}?download=1`,
      keyPairId: keys.keyPairId,
      privateKey: keys.privateKeyPem,
      dateLessThan: new Date(Date.now() + 60_000),
    });
    expect((await fetch(signed)).status).toBe(200);
    await expectDenied(signed.replace("download=1", "download=2"));
  });

  it("accepts a custom policy whose Resource wildcard covers the path", async () => {
    const nowEpoch = Math.floor(Date.now() / 1000);
    const policy = (resource: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        Statement: [
          { Resource: resource, Condition: { DateLessThan: { "AWS:EpochTime": nowEpoch + 60 }, ...extra } },
        ],
      });
    const sign = (p: string, url = `${edge.url}/${PNG_KEY}`) =>
      getSignedUrl({ url, policy: p, keyPairId: keys.keyPairId, privateKey: keys.privateKeyPem });

    const wildcard = sign(policy(`${edge.url}/${OUTPUTS.keyPrefix}*`));
    expect(new URL(wildcard).searchParams.has("Policy")).toBe(true);
    expect((await fetch(wildcard)).status).toBe(200);
    // The same policy and signature open any object under the prefix, as on CloudFront.
    expect((await fetch(wildcard.replace(`/${PNG_KEY}?`, `/${PDF_KEY}?`))).status).toBe(200);

    await expectDenied(sign(policy(`${edge.url}/other/*`)));
    await expectDenied(sign(policy(`${edge.url}/*`, { DateLessThan: { "AWS:EpochTime": nowEpoch - 1 } })));
    await expectDenied(
      sign(policy(`${edge.url}/*`, { DateGreaterThan: { "AWS:EpochTime": nowEpoch + 30 } })),
    );
    expect(
      (await fetch(sign(policy(`${edge.url}/*`, { DateGreaterThan: { "AWS:EpochTime": nowEpoch - 30 } }))))
        .status,
    ).toBe(200);
    expect(
      (await fetch(sign(policy(`${edge.url}/*`, { IpAddress: { "AWS:SourceIp": "127.0.0.0/8" } })))).status,
    ).toBe(200);
    await expectDenied(sign(policy(`${edge.url}/*`, { IpAddress: { "AWS:SourceIp": "192.0.2.0/24" } })));
  });

  it("judges expiry by its own clock", async () => {
    const late = await startLocalEdge({
      port: 0,
      routes: [{ pathPrefix: OUTPUTS.keyPrefix, bucket: BUCKET }],
      s3,
      trustedKeys: keys.keyGroup,
      clock: { now: () => new Date(Date.now() + 24 * 3600 * 1000) },
    });
    try {
      const url = getSignedUrl({
        url: `${late.url}/${PNG_KEY}`,
        keyPairId: keys.keyPairId,
        privateKey: keys.privateKeyPem,
        dateLessThan: new Date(Date.now() + 3600 * 1000),
      });
      await expectDenied(url);
    } finally {
      await late.stop();
    }
  });

  it("verifies SHA-256 signatures marked with Hash-Algorithm", async () => {
    const url = getSignedUrl({
      url: `${edge.url}/${PNG_KEY}`,
      keyPairId: keys.keyPairId,
      privateKey: keys.privateKeyPem,
      dateLessThan: new Date(Date.now() + 60_000),
      algorithm: "SHA256",
    });
    expect(new URL(url).searchParams.get("Hash-Algorithm")).toBe("SHA256");
    expect((await fetch(url)).status).toBe(200);
    // A SHA-256 signature checked as SHA-1 must fail.
    const u = new URL(url);
    u.searchParams.delete("Hash-Algorithm");
    await expectDenied(u.toString());
  });
});

describe("local Lambda Invoke API", () => {
  it("returns the function's result to the real LambdaClient", async () => {
    const res = await lambda.send(
      new InvokeCommand({
        FunctionName: SIGNER_AS_API,
        Payload: new TextEncoder().encode(JSON.stringify({ tenant: TENANT, keys: [PNG_KEY] })),
      }),
    );
    expect(res.StatusCode).toBe(200);
    expect(res.FunctionError).toBeUndefined();
    const body = JSON.parse(new TextDecoder().decode(res.Payload)) as { urls: { key: string }[] };
    expect(body.urls.map((u) => u.key)).toEqual([PNG_KEY]);
  });

  it("hands the function the qualifier, from the name or the Qualifier parameter, as Lambda does", async () => {
    const payload = new TextEncoder().encode(JSON.stringify({ tenant: TENANT, keys: [PNG_KEY] }));
    const viaParam = await lambda.send(
      new InvokeCommand({ FunctionName: SIGNER, Qualifier: "api", Payload: payload }),
    );
    expect(viaParam.FunctionError).toBeUndefined();
    // The same keys through the worker's alias: the worker's policy refuses outputs.
    const asWorker = await lambda.send(
      new InvokeCommand({ FunctionName: `${SIGNER}:render-worker`, Payload: payload }),
    );
    expect(asWorker.FunctionError).toBe("Unhandled");
    expect(new TextDecoder().decode(asWorker.Payload)).toContain(
      `keys.0: ${PNG_KEY} is outside what render-worker`,
    );
    // Unqualified: no caller, so nothing is signed.
    const unqualified = await lambda.send(new InvokeCommand({ FunctionName: SIGNER, Payload: payload }));
    expect(JSON.parse(new TextDecoder().decode(unqualified.Payload))).toMatchObject({
      errorType: "UnknownSignerCallerError",
    });
  });

  it("answers an alias the function does not have with ResourceNotFoundException, and a conflicting qualifier with 400", async () => {
    const payload = new TextEncoder().encode("{}");
    const unknown = await lambda
      .send(new InvokeCommand({ FunctionName: `${SIGNER}:admin`, Payload: payload }))
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ResourceNotFoundException);
    expect((unknown as Error).message).toContain(`${SIGNER}:admin`);
    const conflicting = await lambda
      .send(new InvokeCommand({ FunctionName: SIGNER_AS_API, Qualifier: "render-worker", Payload: payload }))
      .catch((e: unknown) => e);
    expect(conflicting).toMatchObject({ name: "InvalidParameterValueException" });
  });

  it("reports a thrown error as a function error with errorType and errorMessage", async () => {
    const res = await lambda.send(
      new InvokeCommand({
        FunctionName: SIGNER_AS_API,
        Payload: new TextEncoder().encode(`{"tenant":"${TENANT}","keys":["../x"]}`),
      }),
    );
    expect(res.StatusCode).toBe(200);
    expect(res.FunctionError).toBe("Unhandled");
    const body = JSON.parse(new TextDecoder().decode(res.Payload)) as {
      errorType: string;
      errorMessage: string;
    };
    expect(body.errorType).toBe("Error");
    expect(body.errorMessage).toMatch(/^keys\.0: /);
  });

  it("makes LambdaUrlSigner throw with the function's error message", async () => {
    const error = await signer.sign(TENANT, ["outputs/../secret"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignerFunctionError);
    expect((error as SignerFunctionError).errorMessage).toMatch(/^keys\.0: /);
    expect((error as Error).message).toContain(SIGNER_AS_API);
  });

  it("answers an unknown function with ResourceNotFoundException", async () => {
    const error = await lambda
      .send(new InvokeCommand({ FunctionName: "kiln-nope", Payload: new TextEncoder().encode("{}") }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as Error).message).toContain("kiln-nope");
  });

  it("accepts the function's ARN as its name", async () => {
    const arnSigner = new LambdaUrlSigner(
      lambda,
      `arn:aws:lambda:us-east-1:000000000000:function:${SIGNER_AS_API}`,
    );
    const [signed] = await arnSigner.sign(TENANT, [PDF_KEY]);
    expect(signed?.key).toBe(PDF_KEY);
  });

  it("answers a DryRun with 204 and does not run the function", async () => {
    const res = await lambda.send(
      new InvokeCommand({
        FunctionName: SIGNER,
        InvocationType: "DryRun",
        Payload: new TextEncoder().encode("{}"),
      }),
    );
    expect(res.StatusCode).toBe(204);
  });
});

describe("local signing keys", () => {
  it("are created once, with a private key only the owner can read, and reused after a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-keys-"));
    try {
      const first = await loadOrCreateSigningKeys(dir);
      expect(first.keyPairId).toMatch(/^K[A-Z2-7]{13}$/);
      expect(first.privateKeyPem).toContain("-----BEGIN PRIVATE KEY-----");
      expect(first.publicKeyPem).toContain("-----BEGIN PUBLIC KEY-----");
      const mode = (await stat(join(dir, "keys", "url-signing-private.pem"))).mode & 0o777;
      expect(mode).toBe(0o600);

      expect(await loadOrCreateSigningKeys(dir)).toEqual(first);
      const concurrent = await Promise.all([
        loadOrCreateSigningKeys(`${dir}/b`),
        loadOrCreateSigningKeys(`${dir}/b`),
      ]);
      expect(concurrent[0]).toEqual(concurrent[1]);
      expect(concurrent[0]?.keyPairId).not.toBe(first.keyPairId);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("signing key from Secrets Manager", () => {
  let secrets: SecretsManagerStandIn;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    secrets = await startSecretsManagerStandIn(
      new Map([
        [SECRET_ARN, keys.privateKeyPem],
        ["kiln-not-a-key", "hello"],
      ]),
    );
    client = new SecretsManagerClient(localClientConfig(secrets.endpoint));
  });
  afterAll(async () => {
    client?.destroy();
    await secrets?.stop();
  });

  it("is read once and shared by concurrent callers", async () => {
    const before = secrets.calls();
    const load = secretsManagerPrivateKey({ client, secretId: SECRET_ARN, publicKeyPem: keys.publicKeyPem });
    const pems = await Promise.all([load(), load(), load()]);
    expect(pems).toEqual([keys.privateKeyPem, keys.privateKeyPem, keys.privateKeyPem]);
    await load();
    expect(secrets.calls() - before).toBe(1);
  });

  it("is fetched again after a failed read", async () => {
    const load = secretsManagerPrivateKey({ client, secretId: SECRET_ARN, publicKeyPem: keys.publicKeyPem });
    secrets.failNext(1);
    await expect(load()).rejects.toThrow(/can't find/);
    await expect(load()).resolves.toBe(keys.privateKeyPem);
  });

  it("is refused when the secret is not a PEM private key, without echoing it", async () => {
    const load = secretsManagerPrivateKey({
      client,
      secretId: "kiln-not-a-key",
      publicKeyPem: keys.publicKeyPem,
    });
    const error = (await load().catch((e: unknown) => e)) as Error;
    expect(error.message).toBe("Secret kiln-not-a-key does not hold a PEM private key.");
  });

  it("is the version whose public half the signer's key id names: AWSPREVIOUS while a rotation's deploy is half done", async () => {
    const rotated = await loadOrCreateSigningKeys(join(dataDir, "rotated"));
    const stranger = await loadOrCreateSigningKeys(join(dataDir, "stranger"));
    const ROTATING = "kiln-rotating";
    // The deploy has written the new key; the previous one is AWSPREVIOUS, as PutSecretValue leaves it.
    const rotating = await startSecretsManagerStandIn(
      new Map([[ROTATING, rotated.privateKeyPem]]),
      new Map([[ROTATING, keys.privateKeyPem]]),
    );
    const rotatingClient = new SecretsManagerClient(localClientConfig(rotating.endpoint));
    try {
      const load = (publicKeyPem: string) =>
        secretsManagerPrivateKey({ client: rotatingClient, secretId: ROTATING, publicKeyPem })();
      // A signer still configured with the old id signs with the old key, which the edge still trusts.
      await expect(load(keys.publicKeyPem)).resolves.toBe(keys.privateKeyPem);
      await expect(load(rotated.publicKeyPem)).resolves.toBe(rotated.privateKeyPem);
      await expect(load(stranger.publicKeyPem)).rejects.toThrow(
        `Secret ${ROTATING} holds no private key matching the signer's public key`,
      );
    } finally {
      rotatingClient.destroy();
      await rotating.stop();
    }
  });

  describe("sign-assets Lambda entry", () => {
    const saved = { ...process.env };
    afterAll(() => {
      process.env = saved;
      vi.resetModules();
    });

    it("fails at cold start with a sentence naming each variable to set", async () => {
      process.env = { ...saved };
      delete process.env[ENV.cdnBaseUrl];
      delete process.env[ENV.keyPairId];
      delete process.env[ENV.signingKeySecretArn];
      process.env[ENV.signedUrlTtlSeconds] = "5";
      vi.resetModules();
      const error = (await import("../../functions/handlers/sign-assets/index.js").catch(
        (e: unknown) => e,
      )) as Error;
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toContain(`${ENV.cdnBaseUrl} is not set: set it to the distribution's base URL`);
      expect(error.message).toContain(`${ENV.keyPairId} is not set`);
      expect(error.message).toContain(`${ENV.signingKeySecretArn} is not set`);
      expect(error.message).toContain(`${ENV.signedUrlTtlSeconds} is invalid`);
    });

    it("signs URLs the edge accepts, with the key read from Secrets Manager", async () => {
      process.env = {
        ...saved,
        [ENV.cdnBaseUrl]: edge.url,
        [ENV.keyPairId]: keys.keyPairId,
        [ENV.signingKeySecretArn]: SECRET_ARN,
        [ENV.signingPublicKey]: keys.publicKeyPem,
        [ENV.signedUrlTtlSeconds]: "120",
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "kiln-local",
        AWS_SECRET_ACCESS_KEY: "kiln-local",
      };
      vi.resetModules();
      const { handler } = await import("../../functions/handlers/sign-assets/index.js");
      const before = secrets.calls();
      // Lambda's context for an invocation through the api's alias.
      const context = {
        invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${SIGNER_AS_API}`,
        functionName: SIGNER,
        functionVersion: "$LATEST",
        memoryLimitInMB: "256",
        awsRequestId: "req-1",
        getRemainingTimeInMillis: () => 10_000,
      } as unknown as Context;
      const first = await handler({ tenant: TENANT, keys: [PNG_KEY] }, context);
      await handler({ tenant: TENANT, keys: [PDF_KEY] }, context);
      expect(secrets.calls() - before).toBe(1);

      const [signed] = first.urls;
      const validFor = (Date.parse(signed?.expiresAt ?? "") - Date.now()) / 1000;
      expect(validFor).toBeGreaterThan(110);
      expect(validFor).toBeLessThanOrEqual(240);
      const res = await fetch(signed?.url ?? "");
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe(OUTPUTS.cacheControl);
    });
  });
});
