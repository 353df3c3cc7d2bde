import { join, resolve } from "node:path";
import { z } from "zod";
import { localLogFormat, powertoolsLogger } from "../adapters/powertools-logger.js";
import { ENV } from "../core/constants.js";
import { describeRateLimit, parseRateLimit } from "../core/rate-limit.js";
import { parseTiers } from "../core/tenants.js";
import { callbackPolicyFrom } from "../core/webhooks.js";
import { readConfig, setting } from "../handlers/function-definition.js";
import { parseFaults } from "./fault-injection.js";
import { LOCAL_HOSTS_SYNTAX, parseLocalHosts } from "./local-hosts.js";
import { readableLogLine } from "./readable-log.js";
import { startLocalStack } from "./stack.js";

/** `npm start`: the whole Kiln pipeline on this machine, in the foreground, until SIGTERM or Ctrl-C. */
const port = z.coerce.number().int().min(0).max(65_535);
const env = readConfig({
  name: "The Kiln local stack",
  settings: {
    KILN_DATA_DIR: setting("KILN_DATA_DIR", z.string().default(".kiln"), "a directory"),
    KILN_API_PORT: setting("KILN_API_PORT", port.default(3000), "a port number (0 picks a free one)"),
    KILN_EDGE_PORT: setting(
      "KILN_EDGE_PORT",
      port.optional(),
      "a port number, or leave it unset for the API port + 1",
    ),
    KILN_API_KEYS: setting("KILN_API_KEYS", z.string().optional(), "tenantA=keyA,tenantB=keyB"),
    KILN_VISIBILITY_TIMEOUT_SECONDS: setting(
      "KILN_VISIBILITY_TIMEOUT_SECONDS",
      z.coerce.number().int().min(1).max(43_200).optional(),
      "whole seconds between 1 and 43200",
    ),
    [ENV.callbackSchemes]: setting(ENV.callbackSchemes, z.string().optional(), "comma-separated URL schemes"),
    [ENV.callbackHosts]: setting(ENV.callbackHosts, z.string().optional(), "comma-separated host names"),
    KILN_FAULTS: setting(
      "KILN_FAULTS",
      z.string().optional(),
      "kill=<0–1>,killAt=any|<step>,crash=<0–1>,store=<0–1>,throttle=<0–1>,seed=<n>, or leave it unset",
    ),
    KILN_RATE_LIMIT: setting(
      "KILN_RATE_LIMIT",
      z
        .string()
        .optional()
        .superRefine((value, ctx) => {
          try {
            parseRateLimit(value ?? "off");
          } catch (err) {
            ctx.addIssue({ code: "custom", message: (err as Error).message });
          }
        }),
      "requests per second per tenant and a burst, e.g. 20/s,burst=40, or off",
    ),
    KILN_LOCAL_HOSTS: setting(
      "KILN_LOCAL_HOSTS",
      z
        .string()
        .optional()
        .superRefine((value, ctx) => {
          try {
            parseLocalHosts(value ?? "");
          } catch (err) {
            ctx.addIssue({ code: "custom", message: (err as Error).message });
          }
        }),
      `host names URL jobs reach on this machine, ${LOCAL_HOSTS_SYNTAX}`,
    ),
    KILN_TIERS: setting(
      "KILN_TIERS",
      z
        .string()
        .optional()
        .superRefine((value, ctx) => {
          if (value === undefined) return;
          try {
            parseTiers(value, "KILN_TIERS");
          } catch (err) {
            ctx.addIssue({ code: "custom", message: (err as Error).message });
          }
        }),
      'the JSON of --context tiers, e.g. {"standard":{"rateLimit":10,"burst":20}}',
    ),
  },
});
const dataDir = resolve(env.KILN_DATA_DIR);
// At a terminal, log lines are for reading; piped (CI, files) they stay JSON, one object per line.
const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
const logger = powertoolsLogger({
  serviceName: "kiln-local",
  ...(localLogFormat(process.env.KILN_LOG_FORMAT, process.stdout.isTTY === true) === "pretty"
    ? { write: (line: string) => process.stdout.write(`${readableLogLine(line, { colour })}\n`) }
    : {}),
});
// Test-only fault injection; the Lambda entry points never read this variable.
const faults = parseFaults(env.KILN_FAULTS);
const rateLimit = parseRateLimit(env.KILN_RATE_LIMIT ?? "off");
const tiers = env.KILN_TIERS ? parseTiers(env.KILN_TIERS, "KILN_TIERS") : undefined;

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
  ...(rateLimit ? { rateLimit } : {}),
  ...(tiers ? { tiers } : {}),
  ...(env.KILN_LOCAL_HOSTS ? { localHosts: parseLocalHosts(env.KILN_LOCAL_HOSTS) } : {}),
});

process.stdout.write(`${banner()}\n`);

/** What a person needs to start using the stack; the first line is what scripts wait for. */
function banner(): string {
  const bold = (text: string) => (colour ? `\u001b[1m${text}\u001b[0m` : text);
  const row = (name: string, value: string, note = "") =>
    `  ${name.padEnd(10)} ${value}${note ? `   ${note}` : ""}`;
  const keyFile = join(dataDir, "api-key");
  const keyValue = env.KILN_API_KEYS ? "<your key>" : `$(cat ${keyFile})`;
  const [first] = stack.apiKeys;
  // A key is printed only when this start generated it; afterwards it is read from its file.
  const keyRows = env.KILN_API_KEYS
    ? [row("API keys", `tenants ${stack.apiKeys.map((k) => k.tenant).join(", ")}`, "(from KILN_API_KEYS)")]
    : stack.generatedApiKey && first
      ? [row("API key", first.apiKey, `(new for tenant ${first.tenant}; kept in ${keyFile})`)]
      : [row("API key", `export KILN_API_KEY=$(cat ${keyFile})`, `(tenant ${first?.tenant ?? "local"})`)];
  return [
    bold(`Kiln local stack ready at ${stack.apiUrl}`),
    "",
    row("API", stack.apiUrl, "send the key in the x-api-key header"),
    row("Preview", stack.previewUrl, "edit data, see it rendered (this machine only)"),
    row("Health", `${stack.apiUrl}/healthz`),
    row("Edge", stack.edgeUrl, "CloudFront stand-in: signed output URLs"),
    row("Data", dataDir),
    ...keyRows,
    row(
      "Stand-ins",
      `SQS + S3 ${stack.endpoints.sqsS3}  DynamoDB ${stack.endpoints.dynamodb}  Lambda ${stack.endpoints.lambda}`,
    ),
    ...(rateLimit ? [row("Rate limit", describeRateLimit(rateLimit), "per tenant (KILN_RATE_LIMIT)")] : []),
    ...(faults ? ["", `  FAULTS INJECTED: ${env.KILN_FAULTS}`] : []),
    "",
    `  Try it:   KILN_API_KEY=${keyValue} npm run kiln -- render examples/hello/job.json --api ${stack.apiUrl} --out out/hello.png`,
    "  Stop:     Ctrl-C (queued jobs survive a restart)",
    "",
  ].join("\n");
}

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
