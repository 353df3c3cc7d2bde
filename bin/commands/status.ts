import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { KilnApiError, KilnClient } from "../../functions/client/kiln-client.js";
import type { JobView } from "../../functions/core/job-view.js";
import { type Command, EXIT, UsageError } from "./cli-support.js";
import { CONNECTION_OPTIONS, withKiln } from "./connect.js";

export const status: Command = {
  summary: "show a render job: status, attempts, output URL or failure (kiln status <id>)",
  usage: `kiln status <id> [--json] [--api URL] [--api-key KEY] [--data-dir DIR]

Prints the job as GET /v1/renders/{id} shows it: status, attempts, times, the output (type, size,
sha256 and a freshly signed URL) or the failure's code and message. --json prints the API's job
view unchanged.

Which Kiln: --api URL (or $KILN_API_URL) with --api-key KEY (or $KILN_API_KEY). Without them, the
local stack of --data-dir (default $KILN_DATA_DIR or .kiln): the running one (npm start) if there
is one, else an embedded one started for the call.

Exit codes of status: 0 succeeded, 1 failed, 4 still queued or rendering (ask again later),
2 no such job for this key (or a usage error), 3 Kiln could not be reached.`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...CONNECTION_OPTIONS, json: { type: "boolean" }, "data-dir": { type: "string" } },
    });
    const [id, ...rest] = positionals;
    if (!id || rest.length > 0) throw new UsageError("expected: kiln status <id> [--json]");

    const api = values.api ?? process.env.KILN_API_URL;
    const dataDir = resolve(values["data-dir"] ?? process.env.KILN_DATA_DIR ?? ".kiln");
    const running = api ? undefined : await runningLocalStack(dataDir);
    const show = async (client: KilnClient): Promise<number> => {
      let job: JobView;
      try {
        job = await client.getRender(id);
      } catch (err) {
        if (err instanceof KilnApiError && err.status === 404) {
          process.stderr.write(`kiln: no render job ${id} for this API key\n`);
          return EXIT.usage;
        }
        throw err;
      }
      process.stdout.write(values.json ? `${JSON.stringify(job, null, 2)}\n` : describeJob(job));
      if (job.status === "succeeded") return EXIT.ok;
      if (job.status === "failed") return EXIT.jobFailed;
      return EXIT.pending;
    };
    if (running) return show(running);
    return withKiln({ api, "api-key": values["api-key"] }, show);
  },
};

/**
 * A client of the `npm start` stack on `dataDir`, when one is answering there: it names its API in
 * the data dir while it runs. A second, embedded stack on the same data dir could not open it.
 */
async function runningLocalStack(dataDir: string): Promise<KilnClient | undefined> {
  const { LOCAL_ENDPOINTS_FILE } = await import("../../functions/local/resources.js");
  const endpoints = await readFile(join(dataDir, LOCAL_ENDPOINTS_FILE), "utf8").catch(() => undefined);
  if (!endpoints) return undefined;
  const { apiUrl } = JSON.parse(endpoints) as { apiUrl?: string };
  if (!apiUrl) return undefined;
  // Left behind by a stack that was killed: nobody answers there any more.
  const answering = await fetch(new URL("/healthz", apiUrl), { signal: AbortSignal.timeout(5_000) }).then(
    () => true,
    () => false,
  );
  if (!answering) return undefined;
  const apiKey =
    process.env.KILN_API_KEY ??
    (await readFile(join(dataDir, "api-key"), "utf8").catch(() => undefined))?.trim() ??
    process.env.KILN_API_KEYS?.split(",")[0]?.split("=")[1]?.trim();
  if (!apiKey) {
    throw new UsageError(`the local stack at ${apiUrl} needs an API key: pass --api-key or set KILN_API_KEY`);
  }
  return new KilnClient({ baseUrl: apiUrl, apiKey });
}

function describeJob(job: JobView): string {
  const row = (name: string, value: string) => `  ${name.padEnd(9)} ${value}\n`;
  let text = `job ${job.id}  ${job.status}\n`;
  text += row("attempts", String(job.attempts));
  text += row("created", job.createdAt);
  text += row("updated", job.updatedAt);
  if (job.output) {
    const { contentType, bytes, sha256, url, expiresAt } = job.output;
    text += row("output", `${contentType}, ${bytes} bytes, sha256 ${sha256}`);
    text += row("url", url);
    text += row("expires", expiresAt);
  }
  if (job.error) text += row("error", `${job.error.code}: ${job.error.message}`);
  if (job.webhook) text += row("webhook", `${job.webhook.state} (${job.webhook.url})`);
  return text;
}
