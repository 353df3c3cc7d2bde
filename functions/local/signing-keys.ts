import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, link, mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { TrustedKey } from "./edge.js";

export interface SigningKeys {
  /** CloudFront-style public key id derived from the public key, e.g. `K3QZ7N4XWYT2LB`. */
  readonly keyPairId: string;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  /**
   * The key group the edge trusts: this key and, after a rotation, the previous one until it retires.
   * A retired previous key is left out.
   */
  readonly keyGroup: readonly TrustedKey[];
}

const PRIVATE_KEY_FILE = "url-signing-private.pem";
const PUBLIC_KEY_FILE = "url-signing-public.pem";
/** The public half of the key the last rotation replaced, and when it stops being trusted. */
const PREVIOUS_KEY_FILE = "url-signing-previous.json";

const PreviousKeySchema = z.strictObject({ publicKeyPem: z.string().min(1), retiresAt: z.iso.datetime() });

/**
 * The local stack's URL-signing key pair, in `<dataDir>/keys/`. Generated (RSA-2048, as CloudFront
 * requires) on first start and reused afterwards, so signed URLs survive restarts. The private key
 * file is the source of truth; the public key and its id are derived from it. `now` decides whether
 * the previous key (after `rotateSigningKeys`) is still in the key group.
 */
export async function loadOrCreateSigningKeys(dataDir: string, now: Date = new Date()): Promise<SigningKeys> {
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
  const current = { keyPairId: keyPairIdFor(publicKeyPem), publicKeyPem };
  const previous = await readPreviousKey(dir);
  const keyGroup = previous && previous.retiresAt.getTime() > now.getTime() ? [current, previous] : [current];
  return { ...current, privateKeyPem, keyGroup };
}

/**
 * Replaces the local signing key with a new one. The replaced public key stays in the key group for
 * `overlapSeconds` from `now`, so URLs signed with it keep working until they expire; the signer signs
 * with the new key at once. Refused while the previous rotation's key is still trusted: dropping it
 * early would cut the URLs signed with it.
 */
export async function rotateSigningKeys(
  dataDir: string,
  options: { readonly now: Date; readonly overlapSeconds: number },
): Promise<SigningKeys> {
  const { now, overlapSeconds } = options;
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 1) {
    throw new Error(`overlapSeconds must be a positive whole number of seconds; got ${overlapSeconds}.`);
  }
  const current = await loadOrCreateSigningKeys(dataDir, now);
  const stillTrusted = current.keyGroup.find((k) => k.keyPairId !== current.keyPairId);
  if (stillTrusted?.retiresAt) {
    throw new Error(
      `The previous signing key ${stillTrusted.keyPairId} is trusted until ${stillTrusted.retiresAt.toISOString()}; rotate again after that, or the URLs signed with it would stop working before they expire.`,
    );
  }
  const dir = join(dataDir, "keys");
  const retiresAt = new Date(now.getTime() + overlapSeconds * 1000);
  // The previous key first: a crash between the two writes leaves the old key current and still trusted.
  await replaceFile(
    join(dir, PREVIOUS_KEY_FILE),
    `${JSON.stringify({ publicKeyPem: current.publicKeyPem, retiresAt: retiresAt.toISOString() }, null, 2)}\n`,
    0o644,
  );
  await replaceFile(join(dir, PRIVATE_KEY_FILE), generatePrivateKeyPem(), 0o600);
  return loadOrCreateSigningKeys(dataDir, now);
}

async function readPreviousKey(dir: string): Promise<Required<TrustedKey> | undefined> {
  const text = await readIfExists(join(dir, PREVIOUS_KEY_FILE));
  if (text === undefined) return undefined;
  const parsed = PreviousKeySchema.safeParse(safeJson(text));
  if (!parsed.success) {
    throw new Error(
      `${join(dir, PREVIOUS_KEY_FILE)} is not a previous signing key ({ publicKeyPem, retiresAt }); delete it to trust only the current key.`,
    );
  }
  const { publicKeyPem, retiresAt } = parsed.data;
  return { keyPairId: keyPairIdFor(publicKeyPem), publicKeyPem, retiresAt: new Date(retiresAt) };
}

/** Writes through a temporary file and renames it over `path`, so a reader never sees half a key. */
async function replaceFile(path: string, contents: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, contents, { mode, flag: "wx" });
  await rename(temp, path);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
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
