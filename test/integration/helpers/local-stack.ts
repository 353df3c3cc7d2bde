import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../../functions/adapters/silent-logger.js";
import { KilnClient } from "../../../functions/client/kiln-client.js";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../../functions/local/stack.js";

export const TENANT_A = { tenant: "acme", apiKey: "acme-test-key-0001" };
export const TENANT_B = { tenant: "globex", apiKey: "globex-test-key-0002" };

export interface TestStack {
  readonly stack: LocalStack;
  readonly dataDir: string;
  readonly clientA: KilnClient;
  readonly clientB: KilnClient;
  stop(): Promise<void>;
}

/** A local stack in a fresh data dir with two tenants, on free ports. */
export async function startTestStack(overrides: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const dataDir = await mkdtemp(join(tmpdir(), "kiln-it-"));
  const stack = await startLocalStack({
    dataDir,
    apiPort: 0,
    apiKeys: `${TENANT_A.tenant}=${TENANT_A.apiKey},${TENANT_B.tenant}=${TENANT_B.apiKey}`,
    logger: silentLogger,
    ...overrides,
  });
  return {
    stack,
    dataDir,
    clientA: new KilnClient({ baseUrl: stack.apiUrl, apiKey: TENANT_A.apiKey }),
    clientB: new KilnClient({ baseUrl: stack.apiUrl, apiKey: TENANT_B.apiKey }),
    stop: async () => {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A promise the test resolves by hand: holds a render until the test has seen what it waits for. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** Polls `probe` until it returns a value; for state that changes in another process or loop. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
