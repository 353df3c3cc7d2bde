import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { KilnClient, RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { type Command, EXIT, readJsonFile, timeoutMsOf, UsageError } from "./cli-support.js";
import { CONNECTION_OPTIONS, withKiln } from "./connect.js";
import { uploadJobDirectory } from "./job-directory.js";

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "application/pdf": "pdf",
};

export const render: Command = {
  summary: "render one job and write the output file",
  usage: `kiln render <job.json> [--out PATH] [--api URL] [--api-key KEY] [--timeout SECONDS]

Submits job.json (the body of POST /v1/renders), waits for it and writes the output file: the
API holds the request until the job ends (Prefer: wait, up to its cap), then it is polled.
First uploads what sits next to job.json: templates/<id>.html (+ <id>.schema.json) as a new
version of template <id> unless unchanged, and every file under assets/ under its relative path
(--no-upload skips this).
Without --api (or $KILN_API_URL), an embedded local stack is started (data in $KILN_DATA_DIR,
default .kiln). The API key comes from --api-key or $KILN_API_KEY (needed with --api).`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: "string", short: "o" },
        ...CONNECTION_OPTIONS,
        timeout: { type: "string", default: "120" },
        "no-upload": { type: "boolean", default: false },
      },
    });
    const [jobPath, ...rest] = positionals;
    if (!jobPath || rest.length > 0)
      throw new UsageError("expected exactly one job file: kiln render <job.json>");
    const timeoutMs = timeoutMsOf(values.timeout);

    const job = await readJsonFile(jobPath);
    const upload = values["no-upload"] ? undefined : dirname(resolve(jobPath));
    const started = performance.now();
    return withKiln(values, (client) => renderThrough(client, upload, job, values.out, timeoutMs, started));
  },
};

async function renderThrough(
  client: KilnClient,
  uploadFrom: string | undefined,
  job: unknown,
  out: string | undefined,
  timeoutMs: number,
  started: number,
) {
  if (uploadFrom) {
    const { templates } = await uploadJobDirectory(client, uploadFrom, (line) =>
      process.stderr.write(`${line}\n`),
    );
    warnOnOtherVersion(job, templates);
  }
  // The API validates it and names each bad field; it holds the request until the job ends (up to
  // its cap), and the client polls for the rest of the timeout.
  const done = await client.render(job as RenderSubmissionInput, {
    timeoutMs,
    onStatus: (j) => process.stderr.write(`job ${j.id} ${j.status}\n`),
  });
  if (done.status !== "succeeded" || !done.output) {
    process.stderr.write(
      `kiln: job ${done.id} failed: ${done.error?.code ?? "unknown"}: ${done.error?.message ?? ""}\n`,
    );
    return EXIT.jobFailed;
  }
  const bytes = await client.download(done);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== done.output.sha256) {
    throw new Error(`downloaded output sha256 ${sha256} does not match the job's ${done.output.sha256}`);
  }
  const path = resolve(out ?? `${done.id}.${EXTENSIONS[done.output.contentType] ?? "bin"}`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  process.stdout.write(
    `${path}\nsha256 ${sha256}\n${bytes.byteLength} bytes, ${done.output.contentType}, ${seconds} s\n`,
  );
  return EXIT.ok;
}

/** The job renders an exact version; say so when the file next to it is stored as another one. */
function warnOnOtherVersion(job: unknown, uploaded: ReadonlyArray<{ id: string; version: number }>): void {
  const template = (job as { template?: { id?: unknown; version?: unknown } })?.template;
  const match = uploaded.find((t) => t.id === template?.id);
  if (match && typeof template?.version === "number" && match.version !== template.version) {
    process.stderr.write(
      `kiln: note: templates/${match.id}.html is version ${match.version} of "${match.id}" here; the job renders version ${template.version}.\n`,
    );
  }
}
