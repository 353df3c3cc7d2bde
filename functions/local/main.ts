import { resolve } from "node:path";
import { z } from "zod";
import { jsonLogger } from "../adapters/json-logger.js";
import { ENV } from "../core/constants.js";
import { callbackPolicyFrom } from "../core/webhooks.js";
import { readEnv } from "../handlers/env.js";
import { parseFaults } from "./fault-injection.js";
import { startLocalStack } from "./stack.js";

/** `npm start`: the whole Kiln pipeline on this machine, in the foreground, until SIGTERM or Ctrl-C. */
const port = z.coerce.number().int().min(0).max(65_535);
const env = readEnv(
  {
    KILN_DATA_DIR: z.string().default(".kiln"),
    KILN_API_PORT: port.default(3000),
    KILN_EDGE_PORT: port.optional(),
    KILN_API_KEYS: z.string().optional(),
    KILN_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(43_200).optional(),
    [ENV.callbackSchemes]: z.string().optional(),
    [ENV.callbackHosts]: z.string().optional(),
    KILN_FAULTS: z.string().optional(),
  },
  {
    component: "The Kiln local stack",
    hints: {
      KILN_API_PORT: "a port number (0 picks a free one)",
      KILN_EDGE_PORT: "a port number, or leave it unset for the API port + 1",
      KILN_VISIBILITY_TIMEOUT_SECONDS: "whole seconds between 1 and 43200",
      KILN_FAULTS: "kill=<0–1>,crash=<0–1>,store=<0–1>,seed=<n>, or leave it unset",
    },
  },
);
const dataDir = resolve(env.KILN_DATA_DIR);
const logger = jsonLogger("kiln-local");
// Test-only fault injection; the Lambda entry points never read this variable.
const faults = parseFaults(env.KILN_FAULTS);

const stack = await startLocalStack({
  dataDir,
  apiPort: env.KILN_API_PORT,
  edgePort: env.KILN_EDGE_PORT ?? (env.KILN_API_PORT === 0 ? 0 : env.KILN_API_PORT + 1),
  apiKeys: env.KILN_API_KEYS,
  logger,
  ...(env.KILN_VISIBILITY_TIMEOUT_SECONDS
    ? { visibilityTimeoutSeconds: env.KILN_VISIBILITY_TIMEOUT_SECONDS }
    : {}),
  // Locally callbacks may also go to plain http on this machine.
  callbackPolicy: callbackPolicyFrom(
    env[ENV.callbackSchemes] ?? "http,https",
    env[ENV.callbackHosts] ?? "127.0.0.1,localhost",
  ),
  ...(faults ? { faults: { random: faults } } : {}),
});

// Keys from KILN_API_KEYS are the caller's own: name the tenants only.
const keyLines = env.KILN_API_KEYS
  ? [`  tenants: ${stack.apiKeys.map((k) => k.tenant).join(", ")} (keys from KILN_API_KEYS)`]
  : stack.apiKeys.map(
      ({ tenant, apiKey }) => `  tenant ${tenant}: x-api-key ${apiKey} (kept in ${dataDir}/api-key)`,
    );
process.stdout.write(
  [
    `Kiln local stack ready at ${stack.apiUrl}`,
    ...keyLines,
    `  edge (CloudFront): ${stack.edgeUrl}`,
    `  SQS + S3: ${stack.endpoints.sqsS3}   DynamoDB: ${stack.endpoints.dynamodb}   Lambda: ${stack.endpoints.lambda}`,
    `  data: ${dataDir}`,
    ...(faults ? [`  FAULTS INJECTED: ${env.KILN_FAULTS}`] : []),
    "",
  ].join("\n"),
);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
