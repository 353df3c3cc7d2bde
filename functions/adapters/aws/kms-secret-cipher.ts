import { DecryptCommand, EncryptCommand, type KMSClient } from "@aws-sdk/client-kms";
import { WEBHOOK_SECRET_CONTEXT_KEY } from "../../core/constants.js";
import type { SecretCipher } from "../../core/ports.js";

/** Ciphertexts decrypted in this container, kept so that each delivery need not call KMS. */
const CACHE_ENTRIES = 256;

/**
 * Secrets encrypted directly with a KMS key (they are far below Encrypt's 4 KB limit), under the
 * encryption context `{ <contextKey>: tenant }` (`{ tenant }` for webhook secrets): a ciphertext
 * copied to another tenant's item does not decrypt, and CloudTrail names the tenant of every Decrypt. Only roles the key grants may call either.
 */
export class KmsSecretCipher implements SecretCipher {
  private readonly decrypted = new Map<string, string>();

  constructor(
    private readonly kms: KMSClient,
    /** The key's ARN (or id, or alias). */
    private readonly keyId: string,
    private readonly options: {
      /** The encryption context's key; the roles' grants require exactly it. @default "tenant" */
      readonly contextKey?: string;
      /** Plaintexts kept in memory; 0 for secrets used once. @default 256 */
      readonly cacheEntries?: number;
    } = {},
  ) {}

  private get contextKey(): string {
    return this.options.contextKey ?? WEBHOOK_SECRET_CONTEXT_KEY;
  }

  async encrypt(tenant: string, plaintext: string): Promise<Uint8Array> {
    const { CiphertextBlob } = await this.kms.send(
      new EncryptCommand({
        KeyId: this.keyId,
        Plaintext: Buffer.from(plaintext, "utf8"),
        EncryptionContext: { [this.contextKey]: tenant },
      }),
    );
    if (!CiphertextBlob) throw new Error(`KMS key ${this.keyId} answered Encrypt without a ciphertext.`);
    return CiphertextBlob;
  }

  async decrypt(tenant: string, ciphertext: Uint8Array): Promise<string> {
    const cacheKey = `${tenant}\n${Buffer.from(ciphertext).toString("base64")}`;
    const cached = this.decrypted.get(cacheKey);
    if (cached !== undefined) return cached;
    const { Plaintext } = await this.kms.send(
      new DecryptCommand({
        // Naming the key makes KMS refuse a ciphertext of any other key.
        KeyId: this.keyId,
        CiphertextBlob: ciphertext,
        EncryptionContext: { [this.contextKey]: tenant },
      }),
    );
    if (!Plaintext) throw new Error(`KMS key ${this.keyId} answered Decrypt without a plaintext.`);
    const plaintext = Buffer.from(Plaintext).toString("utf8");
    const cacheEntries = this.options.cacheEntries ?? CACHE_ENTRIES;
    if (cacheEntries === 0) return plaintext;
    if (this.decrypted.size >= cacheEntries) {
      const oldest = this.decrypted.keys().next().value;
      if (oldest !== undefined) this.decrypted.delete(oldest);
    }
    this.decrypted.set(cacheKey, plaintext);
    return plaintext;
  }
}
