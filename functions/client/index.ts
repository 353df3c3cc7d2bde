/** Kiln's client package (`@kiln/client`): the typed API client and webhook verification. */
export type * as ApiSchemas from "./api-types.js";
export * from "./kiln-client.js";
export * from "./webhooks.js";
