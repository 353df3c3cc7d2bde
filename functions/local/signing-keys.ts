import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface SigningKeys {
  /** CloudFront-style public key id derived from the public key, e.g. `K3QZ7N4XWYT2LB`. */
  readonly keyPairId: string;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

const PRIVATE_KEY_FILE = "url-signing-private.pem";
const PUBLIC_KEY_FILE = "url-signing-public.pem";

/**
 * The local stack's URL-signing key pair, in `<dataDir>/keys/`. Generated (RSA-2048, as CloudFront
 * requires) on first start and reused afterwards, so signed URLs survive restarts. The private key
 * file is the source of truth; the public key and its id are derived from it.
 */
export async function loadOrCreateSigningKeys(dataDir: string): Promise<SigningKeys> {
  const dir = join(dataDir, "keys");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, PRIVATE_KEY_FILE);

  let privateKeyPem = await readIfExists(privatePath);
  if (privateKeyPem === undefined) {
    privateKeyPem = await createExclusively(privatePath, generatePrivateKeyPem());
  } else {
    // Keeps the key private even if it was copied in with looser permissions.
    await chmod(privatePath, 0o600);
  }

  const publicKeyPem = createPublicKey(createPrivateKey(privateKeyPem))
    .export({ type: "spki", format: "pem" })
    .toString();
  // Written for whoever wants to register the key elsewhere; never read back.
  await writeFile(join(dir, PUBLIC_KEY_FILE), publicKeyPem, { mode: 0o644 });
  return { keyPairId: keyPairIdFor(publicKeyPem), privateKeyPem, publicKeyPem };
}

/** "K" + 13 base32 characters of the SHA-256 of the public key (DER), shaped like CloudFront's ids. */
export function keyPairIdFor(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  return `K${base32(createHash("sha256").update(der).digest()).slice(0, 13)}`;
}

function generatePrivateKeyPem(): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/**
 * Writes `contents` to `path` unless it already exists; when two local stacks start at once the
 * first writer wins and both use its key. `link` is the atomic create-if-absent for a whole file.
 */
export async function createExclusively(path: string, contents: string): Promise<string> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, contents, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, path);
    return contents;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readFile(path, "utf8");
  } finally {
    await unlink(temp);
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}
