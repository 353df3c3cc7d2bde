/** Kiln's client package (`kiln/client`): the typed API client and webhook verification. */
export * from "./kiln-client.js";
export * from "./webhooks.js";
