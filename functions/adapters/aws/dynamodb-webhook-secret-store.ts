import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { SecretCipher, WebhookSecretStore } from "../../core/ports.js";
import {
  ConcurrentRotationError,
  generateWebhookSecret,
  rotateWebhookSecrets,
  type WebhookSecrets,
} from "../../core/webhooks.js";
import { jobsTableClient, putIfAbsent, webhookSecretItemKey } from "./jobs-table.js";

/** The tenant's item: ciphertexts only. `secret` is the plain text of items written before encryption. */
interface SecretItem {
  readonly current?: { readonly ciphertext: Uint8Array; readonly createdAt: string };
  readonly previous?: { readonly ciphertext: Uint8Array; readonly expiresAt: string };
  /** Counts writes, so that a rotation replaces exactly the item it read. */
  readonly revision?: number;
  readonly secret?: string;
}

/** Rotations retried when only a legacy item's encryption (not another rotation) came in between. */
const ROTATE_ATTEMPTS = 3;

/**
 * One item of signing secrets per tenant in the jobs table, created on first use, each secret
 * encrypted by `cipher` under its tenant. Two first uses at once both try a conditional put; the loser
 * reads the winner's secret, so a tenant never sees two. An item from before encryption (a plain
 * `secret`) is still read, and encrypted in place the first time it is read, so plain secrets do not
 * outlive the first delivery or GET after an upgrade.
 */
export class DynamoDbWebhookSecretStore implements WebhookSecretStore {
  private readonly db: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly cipher: SecretCipher,
  ) {
    this.db = jobsTableClient(client);
  }

  async getOrCreate(tenant: string): Promise<WebhookSecrets> {
    const item = await this.read(tenant);
    if (item?.current) return this.open(tenant, item);
    if (item?.secret !== undefined) return this.encryptLegacy(tenant, item.secret);
    const secret = generateWebhookSecret();
    const created = {
      ...webhookSecretItemKey(tenant),
      current: { ciphertext: await this.cipher.encrypt(tenant, secret), createdAt: new Date().toISOString() },
      revision: 1,
    };
    if ((await putIfAbsent(this.db, this.tableName, created)) === "created") return { current: secret };
    const winner = await this.read(tenant);
    if (!winner?.current)
      throw new Error(`The webhook secret of tenant ${tenant} vanished while it was created.`);
    return this.open(tenant, winner);
  }

  async rotate(tenant: string, now: Date, overlapSeconds: number): Promise<WebhookSecrets> {
    let seen: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const item = await this.read(tenant);
      const before = item ? await this.open(tenant, item) : undefined;
      // Another rotation replaced the secret this one set out to replace: its caller holds the new one.
      // (A first use that created the secret, or encrypted a plain one, changed nothing that was handed out.)
      if (seen !== undefined && before?.current !== seen) throw new ConcurrentRotationError(tenant);
      seen = before?.current;
      const fresh = generateWebhookSecret();
      const after = rotateWebhookSecrets(before, fresh, now, overlapSeconds);
      const previous = after.previous && {
        // The replaced ciphertext is kept as it is: same key, same tenant.
        ciphertext: item?.current?.ciphertext ?? (await this.cipher.encrypt(tenant, after.previous.secret)),
        expiresAt: after.previous.expiresAt,
      };
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...webhookSecretItemKey(tenant),
              current: { ciphertext: await this.cipher.encrypt(tenant, fresh), createdAt: now.toISOString() },
              ...(previous ? { previous } : {}),
              revision: (item?.revision ?? 0) + 1,
            },
            ...(item?.revision === undefined
              ? // No item, or one from before encryption (its plain secret goes with this put).
                {
                  ConditionExpression: item
                    ? "attribute_not_exists(#revision) AND #secret = :secret"
                    : "attribute_not_exists(#revision) AND attribute_not_exists(#secret)",
                  ExpressionAttributeNames: { "#revision": "revision", "#secret": "secret" },
                  ...(item ? { ExpressionAttributeValues: { ":secret": item.secret } } : {}),
                }
              : {
                  ConditionExpression: "#revision = :revision",
                  ExpressionAttributeNames: { "#revision": "revision" },
                  ExpressionAttributeValues: { ":revision": item.revision },
                }),
          }),
        );
        return after;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        if (attempt >= ROTATE_ATTEMPTS) throw new ConcurrentRotationError(tenant);
      }
    }
  }

  private async open(tenant: string, item: SecretItem): Promise<WebhookSecrets> {
    if (!item.current) {
      if (item.secret === undefined)
        throw new Error(`The webhook secret item of tenant ${tenant} holds no secret.`);
      return { current: item.secret };
    }
    const [current, previous] = await Promise.all([
      this.cipher.decrypt(tenant, item.current.ciphertext),
      item.previous ? this.cipher.decrypt(tenant, item.previous.ciphertext) : undefined,
    ]);
    return {
      current,
      ...(item.previous && previous !== undefined
        ? { previous: { secret: previous, expiresAt: item.previous.expiresAt } }
        : {}),
    };
  }

  /** Replaces a plain secret with its ciphertext, unless another call did so (or rotated) first. */
  private async encryptLegacy(tenant: string, secret: string): Promise<WebhookSecrets> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: webhookSecretItemKey(tenant),
          UpdateExpression: "SET #current = :current, #revision = :one REMOVE #secret",
          ConditionExpression: "#secret = :secret AND attribute_not_exists(#revision)",
          ExpressionAttributeNames: { "#current": "current", "#revision": "revision", "#secret": "secret" },
          ExpressionAttributeValues: {
            ":current": {
              ciphertext: await this.cipher.encrypt(tenant, secret),
              createdAt: new Date().toISOString(),
            },
            ":one": 1,
            ":secret": secret,
          },
        }),
      );
      return { current: secret };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return this.getOrCreate(tenant);
    }
  }

  private async read(tenant: string): Promise<SecretItem | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: webhookSecretItemKey(tenant), ConsistentRead: true }),
    );
    return Item as SecretItem | undefined;
  }
}
