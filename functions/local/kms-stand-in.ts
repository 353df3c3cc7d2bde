import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { AwsJsonError, startAwsJsonServer } from "./aws-json-protocol.js";
import { createExclusively } from "./signing-keys.js";

export interface KmsStandIn {
  /** `http://127.0.0.1:<port>`, for the client's endpoint (AWS_ENDPOINT_URL_KMS). */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** A ciphertext blob: version, the key's id, then AES-256-GCM's nonce, tag and ciphertext. */
const BLOB_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Encrypt's limit on AWS. */
const MAX_PLAINTEXT_BYTES = 4096;

/**
 * Encrypt and Decrypt of symmetric keys over KMS's JSON protocol (x-amz-json-1.1, `TrentService.*`):
 * the calls Kiln makes for webhook secrets. The real KMSClient runs against it unchanged. A ciphertext
 * names its key and is authenticated together with the encryption context, so, as on AWS, it decrypts
 * only with the same context and, when the caller names a key, only under that key.
 *
 * `keys` maps each key id callers use (an ARN, id or alias) to its 32 bytes of key material.
 */
export async function startKmsStandIn(keys: ReadonlyMap<string, Buffer>): Promise<KmsStandIn> {
  const { url, stop } = await startAwsJsonServer((target, input) => {
    if (target === "TrentService.Encrypt") return encrypt(keys, input);
    if (target === "TrentService.Decrypt") return decrypt(keys, input);
    throw new AwsJsonError(
      "UnsupportedOperationException",
      `Only Encrypt and Decrypt are served locally, not ${target}.`,
    );
  });
  return { endpoint: url, stop };
}

function encrypt(keys: ReadonlyMap<string, Buffer>, input: Record<string, unknown>) {
  const keyId = String(input.KeyId ?? "");
  const key = keyOf(keys, keyId);
  const plaintext = Buffer.from(String(input.Plaintext ?? ""), "base64");
  if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) {
    throw new AwsJsonError("ValidationException", `Plaintext must be 1 to ${MAX_PLAINTEXT_BYTES} bytes.`);
  }
  const id = Buffer.from(keyId, "utf8");
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(contextBytes(input.EncryptionContext));
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const blob = Buffer.concat([
    Buffer.from([BLOB_VERSION, id.length]),
    id,
    nonce,
    cipher.getAuthTag(),
    sealed,
  ]);
  return { CiphertextBlob: blob.toString("base64"), KeyId: keyId, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
}

function decrypt(keys: ReadonlyMap<string, Buffer>, input: Record<string, unknown>) {
  const invalid = () => new AwsJsonError("InvalidCiphertextException", "The ciphertext does not decrypt.");
  const blob = Buffer.from(String(input.CiphertextBlob ?? ""), "base64");
  const idLength = blob[1] ?? 0;
  const start = 2 + idLength;
  if (blob[0] !== BLOB_VERSION || blob.length < start + NONCE_BYTES + TAG_BYTES) throw invalid();
  const keyId = blob.subarray(2, start).toString("utf8");
  if (input.KeyId !== undefined && input.KeyId !== keyId) {
    throw new AwsJsonError(
      "IncorrectKeyException",
      `The ciphertext was not encrypted under ${String(input.KeyId)}.`,
    );
  }
  const decipher = createDecipheriv(
    "aes-256-gcm",
    keyOf(keys, keyId),
    blob.subarray(start, start + NONCE_BYTES),
  );
  decipher.setAAD(contextBytes(input.EncryptionContext));
  decipher.setAuthTag(blob.subarray(start + NONCE_BYTES, start + NONCE_BYTES + TAG_BYTES));
  try {
    const plaintext = Buffer.concat([
      decipher.update(blob.subarray(start + NONCE_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
    return {
      Plaintext: plaintext.toString("base64"),
      KeyId: keyId,
      EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
    };
  } catch {
    // A different encryption context fails here, as on AWS, without saying which part differed.
    throw invalid();
  }
}

function keyOf(keys: ReadonlyMap<string, Buffer>, keyId: string): Buffer {
  const key = keys.get(keyId);
  if (!key) throw new AwsJsonError("NotFoundException", `Key '${keyId}' does not exist.`);
  return key;
}

/** The encryption context in one order, whatever order the caller sent it in. */
function contextBytes(context: unknown): Buffer {
  const entries = Object.entries((context ?? {}) as Record<string, unknown>)
    .map(([k, v]) => [k, String(v)])
    .sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

/**
 * The key material of a local KMS key, in `<dataDir>/keys/<name>.key`: 32 random bytes made at first
 * start and kept, so that what was encrypted survives restarts. Never in the repository.
 */
export async function loadOrCreateKmsKey(dataDir: string, name: string): Promise<Buffer> {
  const dir = join(dataDir, "keys");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${name}.key`);
  const existing = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  const text = existing ?? (await createExclusively(path, `${randomBytes(32).toString("base64")}\n`));
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32) throw new Error(`${path} does not hold a base64 32-byte key.`);
  return key;
}
