import type { PassThrough, Readable } from "node:stream";
import { ZipFile } from "yazl";
import type { ArchiveEntry } from "../../core/batches.js";

/** Regular file, rw-r--r--, whatever the umask of the process that writes the archive. */
const FILE_MODE = 0o100644;

/**
 * A zip of `entries`, in order, as a stream. yazl switches to ZIP64 by itself once the archive passes
 * 65,535 entries or 4 GiB. Entries are stored, not deflated: rendered PNG, JPEG, WebP and PDF are
 * compressed already. Every entry is dated `modified`, so the same entries give the same bytes.
 *
 * The next entry is taken from `entries` only once the reader has taken the previous one, so an
 * archive of thousands of outputs never sits in memory whole. A failing `entries` fails the stream.
 */
export function zipStream(entries: AsyncIterable<ArchiveEntry>, modified: Date): Readable {
  const zip = new ZipFile();
  const out = zip.outputStream as PassThrough;
  zip.on("error", (err: Error) => out.destroy(err));
  addAll(zip, out, entries, { compress: false, mode: FILE_MODE, ...dosTimestamp(modified) }).catch(
    (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return out;
}

async function addAll(
  zip: ZipFile,
  out: PassThrough,
  entries: AsyncIterable<ArchiveEntry>,
  options: { compress: false; mode: number; mtime: Date; forceDosTimestamp: true },
): Promise<void> {
  for await (const entry of entries) {
    const data = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    // A stored buffer entry is written to the stream at once, all earlier entries being written too.
    zip.addBuffer(data, entry.name, options);
    if (out.writableNeedDrain) await drainedOrClosed(out);
    // The reader gave up (the upload failed): read no more outputs.
    if (out.destroyed) return;
  }
  zip.end();
}

function drainedOrClosed(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}

/**
 * yazl writes DOS times in the process's time zone (and a UTC extra field unless told not to). Kiln's
 * archives carry the UTC time in the DOS fields only, so they are the same bytes wherever they are made.
 */
function dosTimestamp(modified: Date): { mtime: Date; forceDosTimestamp: true } {
  const utcAsLocal = new Date(
    modified.getUTCFullYear(),
    modified.getUTCMonth(),
    modified.getUTCDate(),
    modified.getUTCHours(),
    modified.getUTCMinutes(),
    modified.getUTCSeconds(),
  );
  return { mtime: utcAsLocal, forceDosTimestamp: true };
}
