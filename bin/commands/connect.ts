import { resolve } from "node:path";
import { KilnClient } from "../../functions/client/kiln-client.js";
import { UsageError } from "./cli-support.js";

/**
 * `--api URL --api-key KEY` (or $KILN_API_URL / $KILN_API_KEY) for a deployed Kiln; neither: an
 * embedded local stack.
 */
export const CONNECTION_OPTIONS = {
  api: { type: "string" },
  "api-key": { type: "string" },
} as const;

/**
 * Runs `fn` with a client of the Kiln named by the options: a deployed API, or a local stack started on
 * $KILN_DATA_DIR (default .kiln) for the duration of the call, as `kiln render` does.
 */
export async function withKiln<T>(
  options: { api?: string | undefined; "api-key"?: string | undefined },
  fn: (client: KilnClient) => Promise<T>,
): Promise<T> {
  const api = options.api ?? process.env.KILN_API_URL;
  if (api) {
    const apiKey = options["api-key"] ?? process.env.KILN_API_KEY;
    if (!apiKey) throw new UsageError("--api needs an API key: pass --api-key or set KILN_API_KEY");
    return fn(new KilnClient({ baseUrl: api, apiKey }));
  }
  // Loaded only here, so that talking to a deployed API does not pull in Chromium or the stand-ins.
  const { startLocalStack } = await import("../../functions/local/stack.js");
  const { silentLogger } = await import("../../functions/adapters/silent-logger.js");
  const stack = await startLocalStack({
    dataDir: resolve(process.env.KILN_DATA_DIR ?? ".kiln"),
    apiPort: 0,
    apiKeys: process.env.KILN_API_KEYS,
    logger: silentLogger,
  });
  try {
    const [first] = stack.apiKeys;
    if (!first) throw new Error("the local stack has no API key");
    return await fn(new KilnClient({ baseUrl: stack.apiUrl, apiKey: first.apiKey }));
  } finally {
    await stack.stop();
  }
}
