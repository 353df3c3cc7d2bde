/**
 * The signer against the real local stack: each caller reaches it through its own alias, as on AWS, and
 * gets only its policy's keys and TTLs signed; a key rotation keeps old URLs working at the real local
 * edge through the overlap and refuses them after it.
 */
import { LambdaClient } from "@aws-sdk/client-lambda";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LambdaUrlSigner, SignerFunctionError } from "../../functions/adapters/aws/lambda-url-signer.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { loadOrCreateSigningKeys } from "../../functions/local/signing-keys.js";
import { startTestStack, TENANT_A, TENANT_B, type TestStack } from "./helpers/local-stack.js";

/** The stack's clock: moved forward to pass the overlap without waiting. */
const clock = {
  offsetMs: 0,
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  },
};

const ASSET_A = `assets/${TENANT_A.tenant}/brand/logo.png`;
const ASSET_B = `assets/${TENANT_B.tenant}/brand/logo.png`;
const OUTPUT_A = `outputs/${TENANT_A.tenant}/0a1b2c.png`;

let t: TestStack;
let lambda: LambdaClient;
let s3: S3Client;
/** The render worker's signer client, configured as the stack configures the worker. */
let worker: LambdaUrlSigner;
let api: LambdaUrlSigner;

beforeAll(async () => {
  t = await startTestStack({ clock });
  lambda = new LambdaClient(localClientConfig(t.stack.endpoints.lambda));
  s3 = new S3Client(localClientConfig(t.stack.endpoints.sqsS3));
  for (const [bucket, key] of [
    [t.stack.names.assetsBucket, ASSET_A],
    [t.stack.names.assetsBucket, ASSET_B],
    [t.stack.names.outputsBucket, OUTPUT_A],
  ] as const) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "png", ContentType: "image/png" }));
  }
  worker = new LambdaUrlSigner(lambda, t.stack.functions.renderWorker.config.signerFunctionName);
  api = new LambdaUrlSigner(lambda, t.stack.functions.api.config.signerFunctionName);
});

afterAll(async () => {
  lambda?.destroy();
  s3?.destroy();
  await t?.stop();
});

async function refusal(promise: Promise<unknown>): Promise<SignerFunctionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SignerFunctionError);
  return error as SignerFunctionError;
}

const statusOf = async (url: string) => (await fetch(url)).status;

describe("the signer, by caller", () => {
  it("signs for the worker its job's tenant's assets, which the edge serves", async () => {
    const [signed] = await worker.sign(TENANT_A.tenant, [ASSET_A], 120);
    expect(await statusOf(signed?.url ?? "")).toBe(200);
  });

  it("refuses the worker another tenant's asset, an output, and a longer TTL, naming each", async () => {
    const otherTenant = await refusal(worker.sign(TENANT_A.tenant, [ASSET_A, ASSET_B]));
    expect(otherTenant.errorMessage).toBe(
      `keys.1: ${ASSET_B} is outside what render-worker may have signed for tenant ${TENANT_A.tenant} (assets/${TENANT_A.tenant}/)`,
    );
    const output = await refusal(worker.sign(TENANT_A.tenant, [OUTPUT_A]));
    expect(output.errorMessage).toContain(
      `keys.0: ${OUTPUT_A} is outside what render-worker may have signed`,
    );
    const longer = await refusal(worker.sign(TENANT_A.tenant, [ASSET_A], 3600));
    expect(longer.errorMessage).toBe(
      "ttlSeconds: 3600 exceeds the 300 s that render-worker may have URLs signed for",
    );
  });

  it("signs for the api its tenant's outputs but not assets", async () => {
    const [signed] = await api.sign(TENANT_A.tenant, [OUTPUT_A]);
    expect(await statusOf(signed?.url ?? "")).toBe(200);
    const asset = await refusal(api.sign(TENANT_A.tenant, [ASSET_A]));
    expect(asset.errorMessage).toContain(`keys.0: ${ASSET_A} is outside what api may have signed`);
  });

  it("refuses an invocation through no caller alias", async () => {
    const unqualified = await refusal(
      new LambdaUrlSigner(lambda, t.stack.names.signerFunction).sign(TENANT_A.tenant, [ASSET_A]),
    );
    expect(unqualified.errorType).toBe("UnknownSignerCallerError");
  });
});

describe("signing key rotation at the local edge", () => {
  it("accepts old-key URLs through the overlap and refuses them after it; new-key URLs are accepted", async () => {
    const before = await loadOrCreateSigningKeys(t.dataDir, clock.now());
    const [old] = await worker.sign(TENANT_A.tenant, [ASSET_A], 120);
    const oldUrl = old?.url ?? "";
    expect(new URL(oldUrl).searchParams.get("Key-Pair-Id")).toBe(before.keyPairId);
    // A URL with the old key that would not expire for a day: only the key group can stop it.
    const longLived = getSignedUrl({
      url: `${t.stack.edgeUrl}/${ASSET_A}`,
      keyPairId: before.keyPairId,
      privateKey: before.privateKeyPem,
      dateLessThan: new Date(clock.now().getTime() + 24 * 3600 * 1000),
    });

    await expect(t.stack.rotateSigningKey({ overlapSeconds: 60 })).rejects.toThrow(
      "overlapSeconds must be at least 600, the longest a signed URL stays valid (twice the longest caller TTL); got 60.",
    );
    const rotation = await t.stack.rotateSigningKey();
    expect(rotation.previousKeyPairId).toBe(before.keyPairId);
    expect(rotation.keyPairId).not.toBe(before.keyPairId);
    expect(rotation.previousRetiresAt.getTime() - clock.now().getTime()).toBeGreaterThan(599_000);

    // During the overlap: both keys are in the key group; the signer signs with the new one.
    const [fresh] = await worker.sign(TENANT_A.tenant, [ASSET_A], 120);
    expect(new URL(fresh?.url ?? "").searchParams.get("Key-Pair-Id")).toBe(rotation.keyPairId);
    expect(await statusOf(oldUrl)).toBe(200);
    expect(await statusOf(longLived)).toBe(200);
    expect(await statusOf(fresh?.url ?? "")).toBe(200);
    await expect(t.stack.rotateSigningKey()).rejects.toThrow(/is trusted until .*rotate again after that/);

    // After the overlap: the old key is out of the key group.
    clock.offsetMs += rotation.previousRetiresAt.getTime() - clock.now().getTime() + 1000;
    const refused = await fetch(longLived);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("<Code>InvalidKey</Code>");
    expect(await statusOf(oldUrl)).toBe(403);
    const [later] = await worker.sign(TENANT_A.tenant, [ASSET_A], 120);
    expect(await statusOf(later?.url ?? "")).toBe(200);
    // And the data dir no longer lists it.
    expect((await loadOrCreateSigningKeys(t.dataDir, clock.now())).keyGroup.map((k) => k.keyPairId)).toEqual([
      rotation.keyPairId,
    ]);
  });
});
