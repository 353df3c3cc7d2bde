import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { BatchSubmissionInput, BatchView, KilnClient } from "../../functions/client/kiln-client.js";
import { BATCHES, outputFileName, parseJsonLines } from "../../functions/core/batches.js";
import { mapConcurrently } from "../../functions/core/concurrency.js";
import { uploadAsset } from "./assets.js";
import { type Command, EXIT, InputError, readInputFile, timeoutMsOf, UsageError } from "./cli-support.js";
import { CONNECTION_OPTIONS, withKiln } from "./connect.js";

/** Bodies above this go up as a JSONL asset (recordsKey) instead of inline records. */
const INLINE_BODY_BYTES = 2 * 1024 * 1024;

export const batch: Command = {
  summary: "render one document per JSONL record (a batch) and download them",
  usage: `kiln batch <template> <records.jsonl> [options]

  <template>        id@version of a stored template (e.g. invoice@3), or a path to an .html file
  <records.jsonl>   one JSON object per line: the data of one document each

Output options (as in the output object of POST /v1/renders):
  --format png|jpeg|webp|pdf   (default png)
  --width PX  --height PX  --scale N  --quality 1-100  --full-page  --transparent
Other options:
  --out DIR           download every output (named by record index), manifest.json (and outputs.zip)
  --zip               also have Kiln build one zip of all outputs
  --merged FILE       with --format pdf: have Kiln join every rendered record into one PDF, in record
                      order with a bookmark each, and write it to FILE (with or without --out)
  --callback-url URL  each render's completion event is POSTed there
  --timeout SECONDS   give up waiting after this long (default 3600)
  --api URL --api-key KEY   a deployed Kiln (or $KILN_API_URL / $KILN_API_KEY); without them an
                      embedded local stack is started (data in $KILN_DATA_DIR, default .kiln)

Progress is redrawn in place on a terminal and printed as periodic lines otherwise. Exit codes:
0 every record rendered, 1 some renders failed, 2 usage or input error (a bad line is named
before anything is sent), 3 Kiln could not be reached.`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: "string", default: "png" },
        width: { type: "string" },
        height: { type: "string" },
        scale: { type: "string" },
        quality: { type: "string" },
        "full-page": { type: "boolean" },
        transparent: { type: "boolean" },
        out: { type: "string", short: "o" },
        zip: { type: "boolean", default: false },
        merged: { type: "string" },
        "callback-url": { type: "string" },
        timeout: { type: "string", default: "3600" },
        ...CONNECTION_OPTIONS,
      },
    });
    const [templateArg, recordsPath, ...rest] = positionals;
    if (!templateArg || !recordsPath || rest.length > 0) {
      throw new UsageError("expected a template and a records file: kiln batch <template> <records.jsonl>");
    }
    const timeoutMs = timeoutMsOf(values.timeout);

    const template = await readTemplate(templateArg);
    const records = await readRecords(recordsPath);
    const output: Record<string, unknown> = { format: values.format };
    for (const name of ["width", "height", "scale", "quality"] as const) {
      const raw = values[name];
      if (raw === undefined) continue;
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not "${raw}"`);
      output[name] = n;
    }
    if (values["full-page"]) output.fullPage = true;
    if (values.transparent) output.transparent = true;

    return withKiln(values, async (client) => {
      const body: Record<string, unknown> = {
        template,
        output,
        ...(values.zip ? { zip: true } : {}),
        ...(values.merged !== undefined ? { mergePdf: true } : {}),
        ...(values["callback-url"] ? { callbackUrl: values["callback-url"] } : {}),
      };
      const inline = JSON.stringify(records.text).length < INLINE_BODY_BYTES;
      if (records.values.length <= BATCHES.maxInlineRecords && inline) {
        body.records = records.values;
      } else {
        // Too many for one request body: the records go up as a JSONL asset, named by their hash.
        const bytes = Buffer.from(records.text, "utf8");
        const key = `batches/${createHash("sha256").update(bytes).digest("hex")}.jsonl`;
        await uploadAsset(client, key, bytes, "application/x-ndjson");
        body.recordsKey = key;
      }
      // The API validates it and names each bad field.
      const submitted = await client.submitBatch(body as unknown as BatchSubmissionInput);
      process.stderr.write(`batch ${submitted.id}: ${submitted.total} records queued\n`);
      const done = await follow(client, submitted.id, timeoutMs, {
        zip: values.zip === true,
        merged: values.merged !== undefined,
      });
      if (values.out) await download(client, done, resolve(values.out));
      const { succeeded, failed } = done.counts;
      process.stdout.write(`batch ${done.id} ${done.status}: ${succeeded} succeeded, ${failed} failed\n`);
      if (failed > 0) await reportFailures(client, done);
      const mergedWritten = values.merged === undefined || (await writeMerged(done, resolve(values.merged)));
      return failed > 0 || !mergedWritten ? EXIT.jobFailed : EXIT.ok;
    });
  },
};

async function readTemplate(arg: string): Promise<Record<string, unknown>> {
  if (arg.endsWith(".html")) {
    return { html: await readInputFile(arg) };
  }
  const match = /^(.+)@(\d+)$/.exec(arg);
  if (!match)
    throw new UsageError(`template must be id@version (e.g. invoice@3) or an .html file, not "${arg}"`);
  return { id: match[1], version: Number(match[2]) };
}

/** The records, each checked to be a JSON object; the first bad line is named before anything is sent. */
async function readRecords(path: string): Promise<{ values: Record<string, unknown>[]; text: string }> {
  const text = await readInputFile(path);
  const parsed = parseJsonLines(text);
  const [bad] = parsed.issues;
  if (bad) throw new InputError(`${path}:${bad.line}: ${bad.message}`);
  const values: Record<string, unknown>[] = [];
  parsed.records.forEach((r, i) => {
    if (typeof r !== "object" || r === null || Array.isArray(r)) {
      throw new InputError(`${path}:${parsed.lines[i]}: must be a JSON object`);
    }
    values.push(r as Record<string, unknown>);
  });
  if (values.length === 0) throw new InputError(`${path} holds no records`);
  if (values.length > BATCHES.maxRecords) {
    throw new InputError(`${path} holds ${values.length} records; a batch has at most ${BATCHES.maxRecords}`);
  }
  return { values, text };
}

const COMPLETE = new Set(["succeeded", "partially_failed", "failed"]);

/** Polls until the batch is complete and its manifest (and zip and merged PDF, if asked for) exist, showing progress. */
async function follow(
  client: KilnClient,
  id: string,
  timeoutMs: number,
  asked: { zip: boolean; merged: boolean },
): Promise<BatchView> {
  const tty = process.stdout.isTTY === true;
  const started = Date.now();
  let lastLine = 0;
  let rendersDoneAt: number | undefined;
  for (;;) {
    const view = await client.getBatch(id);
    const complete = COMPLETE.has(view.status);
    const ready =
      complete &&
      view.manifest !== undefined &&
      (!asked.zip || view.zip?.state !== "pending") &&
      (!asked.merged || view.mergedPdf?.state !== "pending");
    const { succeeded, failed } = view.counts;
    // The rate is of renders: it stops counting once the last one is done (the manifest may lag).
    if (succeeded + failed >= view.total) rendersDoneAt ??= Date.now();
    const line = progressLine(view, ((rendersDoneAt ?? Date.now()) - started) / 1000);
    if (tty) process.stdout.write(`\r\x1b[2K${line}${ready ? "\n" : ""}`);
    else if (ready || Date.now() - lastLine >= 1000) {
      process.stdout.write(`${line}\n`);
      lastLine = Date.now();
    }
    if (ready) return view;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`batch ${id} was still ${view.status} after ${timeoutMs / 1000} s`);
    }
    // Each poll reads the whole batch (BatchStore.listJobs): twice a second at most.
    await new Promise((r) => setTimeout(r, tty ? 500 : 1000));
  }
}

function progressLine(view: Pick<BatchView, "total" | "counts">, seconds: number): string {
  const { succeeded, failed, rendering } = view.counts;
  const done = succeeded + failed;
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 && done < view.total ? `ETA ${formatSeconds((view.total - done) / rate)}` : "";
  const width = 24;
  const filled = Math.round((done / Math.max(1, view.total)) * width);
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  return [
    bar,
    `${done}/${view.total} done`,
    `${failed} failed`,
    `${rendering} rendering`,
    `${rate.toFixed(1)}/s`,
    eta,
  ]
    .filter(Boolean)
    .join("  ");
}

function formatSeconds(s: number): string {
  const whole = Math.ceil(s);
  return whole >= 60 ? `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, "0")}s` : `${whole}s`;
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`downloading ${what} failed with HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The manifest, every output (checked against its sha256) and the zip, into `dir`. */
async function download(client: KilnClient, view: BatchView, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (view.manifest)
    await writeFile(join(dir, "manifest.json"), await fetchBytes(view.manifest.url, "the manifest"));
  let written = 0;
  for (let start: number | undefined = 0; start !== undefined; ) {
    const page = await client.getBatchOutputs(view.id, start);
    await mapConcurrently(page.items, 8, async (item) => {
      if (!item.output) return;
      const bytes = await fetchBytes(item.output.url, `the output of record ${item.index}`);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      if (sha256 !== item.output.sha256) {
        throw new Error(
          `record ${item.index}: downloaded sha256 ${sha256} does not match ${item.output.sha256}`,
        );
      }
      await writeFile(join(dir, outputFileName(item.index, view.total, item.output.contentType)), bytes);
      written++;
    });
    start = page.next;
  }
  if (view.zip?.state === "ready" && view.zip.url)
    await writeFile(join(dir, "outputs.zip"), await fetchBytes(view.zip.url, "the zip"));
  process.stderr.write(`${written} outputs and manifest.json written to ${dir}\n`);
}

/** The merged PDF into `file`; false (and why, on stderr) when Kiln could not make one. */
async function writeMerged(view: BatchView, file: string): Promise<boolean> {
  const merged = view.mergedPdf;
  if (merged?.state !== "ready" || !merged.url) {
    process.stderr.write(`no merged PDF: ${merged?.message ?? "none was made"}\n`);
    return false;
  }
  await writeFile(file, await fetchBytes(merged.url, "the merged PDF"));
  process.stderr.write(`merged PDF written to ${file}\n`);
  return true;
}

/** The first few failures, with their codes, so a script's log says why. */
async function reportFailures(client: KilnClient, view: BatchView): Promise<void> {
  const shown: string[] = [];
  for (let start: number | undefined = 0; start !== undefined && shown.length < 5; ) {
    const page = await client.getBatchOutputs(view.id, start);
    for (const item of page.items) {
      if (item.error && shown.length < 5)
        shown.push(`  record ${item.index}: ${item.error.code}: ${item.error.message}`);
    }
    start = page.next;
  }
  process.stderr.write(`${shown.join("\n")}\n`);
}
