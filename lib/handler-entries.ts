import { fileURLToPath } from "node:url";

/** Repository root, resolved from this file so that synth works from any working directory. */
export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));

const fromRoot = (relative: string) => fileURLToPath(new URL(relative, new URL("../", import.meta.url)));

/**
 * Entry files of the deploy-time functions (each exports `handler`). Kiln's own functions name their
 * entries in their definitions (functions/handlers/<name>/function.ts).
 */
export const HANDLER_ENTRIES = {
  /** CloudFormation custom resource that creates the URL-signing key pair at deploy time. */
  signingKeyPairProvider: fromRoot("lib/providers/signing-key-pair.ts"),
} as const;

/** The root lockfile: NodejsFunction resolves the project root (and bundled versions) from it. */
export const LOCK_FILE = fromRoot("package-lock.json");
