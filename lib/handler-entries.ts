import { fileURLToPath } from "node:url";

/** Repository root, resolved from this file so that synth works from any working directory. */
export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));

const fromRoot = (relative: string) => fileURLToPath(new URL(relative, new URL("../", import.meta.url)));

/** Lambda entry files (each exports `handler`); the one place the CDK app names them. */
export const HANDLER_ENTRIES = {
  api: fromRoot("functions/handlers/api/index.ts"),
  renderWorker: fromRoot("functions/handlers/render-worker/index.ts"),
  signAssets: fromRoot("functions/handlers/sign-assets/index.ts"),
  webhookDispatcher: fromRoot("functions/handlers/webhook-dispatcher/index.ts"),
  batchFanOut: fromRoot("functions/handlers/batch-fanout/index.ts"),
  /** CloudFormation custom resource that creates the URL-signing key pair at deploy time. */
  signingKeyPairProvider: fromRoot("lib/providers/signing-key-pair.ts"),
} as const;

/** The root lockfile: NodejsFunction resolves the project root (and bundled versions) from it. */
export const LOCK_FILE = fromRoot("package-lock.json");
