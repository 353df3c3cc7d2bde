/**
 * Kiln's Chromium pack: what @sparticuz/chromium ships, re-packed at synth time for a fast cold start.
 * The package stores the binary brotli-compressed and its `executablePath()` decodes it into /tmp on
 * the first call: ~1.3 s of CPU for 209 MB, most of a cold start. Brotli is the slowest of the usual
 * decoders and an uncompressed binary does not fit the 250 MB layer limit next to the font pack, so the
 * pack holds the same bytes as independent zstd frames (decoded in parallel, ~3× less CPU than brotli),
 * and the package's small archives already unpacked:
 *
 *   chromium.zst   the binary, FRAME_BYTES per zstd frame (any zstd tool decodes the whole file); the
 *                  frames that cost the most to decode per byte they save are stored (raw blocks), as
 *                  far as STORED_EXTRA_BYTES allows: the extraction writes their blocks as they are
 *   pack.json      the manifest: frame offsets and lengths, the binary's size and sha256
 *   swiftshader/   GL libraries Chromium loads from its own directory: copied next to the binary
 *                  (even with --disable-gpu, its in-process GPU thread dies without them)
 *   al2023/lib/    the libraries Lambda's Amazon Linux 2023 lacks (LD_LIBRARY_PATH, from the layer)
 *   fonts/         the package's Open Sans (listed in the font pack's fontconfig file)
 *
 * This module is what the worker bundle carries: the manifest and the extraction (zstd decoding only).
 * Building the pack is synth-only and lives in chromium-pack-build.ts.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { copyFile, readdir, rename, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { zstdDecompress } from "node:zlib";

export const CHROMIUM_PACKAGE = "@sparticuz/chromium";
/** Where the layer's `chromium/` directory is on Lambda. */
export const LAMBDA_CHROMIUM_PACK_DIR = "/opt/chromium";
export const PACK_MANIFEST_FILE = "pack.json";
export const PACK_BINARY_FILE = "chromium.zst";
/** GL libraries Chromium loads from its own directory, copied next to the binary. */
export const SWIFTSHADER_DIR = "swiftshader";

export interface ChromiumPackManifest {
  readonly builderVersion: number;
  /** sha256 over the package version and its archive, builder included: equal hashes, equal packs. */
  readonly hash: string;
  readonly chromiumVersion: string;
  readonly binary: {
    readonly bytes: number;
    readonly sha256: string;
    readonly frames: ReadonlyArray<{
      readonly offset: number;
      readonly length: number;
      readonly bytes: number;
      /** Raw blocks, not compressed: decoding it is a copy. */
      readonly stored: boolean;
    }>;
  };
}

export function readManifest(packDir: string): ChromiumPackManifest | undefined {
  try {
    return JSON.parse(
      fs.readFileSync(path.join(packDir, PACK_MANIFEST_FILE), "utf8"),
    ) as ChromiumPackManifest;
  } catch {
    return undefined;
  }
}

const decodeFrame = promisify(zstdDecompress);

/**
 * Decodes the pack's binary to `target`: frames in parallel on the libuv pool, each written at its
 * offset, into a file beside the target that is renamed into place only when complete (after the GL
 * libraries it loads from its directory), so no process can ever launch a half-written Chromium.
 * Resolves to `target`.
 */
export async function extractChromiumBinary(packDir: string, target: string): Promise<string> {
  // Set up synchronously (microseconds), so the first frames are decoding on the pool before the
  // rest of the worker's modules evaluate: an await here would wait for all of module init.
  const manifest = JSON.parse(
    fs.readFileSync(path.join(packDir, PACK_MANIFEST_FILE), "utf8"),
  ) as ChromiumPackManifest;
  const partial = `${target}.${process.pid}.${randomBytes(4).toString("hex")}.partial`;
  const source = fs.openSync(path.join(packDir, PACK_BINARY_FILE), "r");
  let out: number | undefined;
  try {
    out = fs.openSync(partial, "w", 0o700);
    const fd = out;
    let rawOffset = 0;
    const jobs = manifest.binary.frames.map((frame) => {
      const at = rawOffset;
      rawOffset += frame.bytes;
      return { ...frame, at };
    });
    let next = 0;
    // One read buffer per decoder, reused frame after frame: a fresh 26 MB buffer costs ~14 ms of
    // page faults on first touch (a decoded frame's output still does; Node's zstd allocates it).
    const largest = Math.max(...jobs.map((job) => job.length));
    const worker = async () => {
      const frames = Buffer.allocUnsafe(largest);
      for (let job = jobs[next++]; job; job = jobs[next++]) {
        // At most 26 MB from the page cache: a few ms, cheaper than a round trip through the pool.
        const frame = frames.subarray(0, job.length);
        fs.readSync(source, frame, 0, job.length, job.offset);
        // A stored frame's blocks go to the file as they are: decoding it would only copy them.
        // Otherwise one output chunk of the frame's size: a single pass, no buffer growth.
        const raw = job.stored ? rawBlocks(frame) : [await decodeFrame(frame, { chunkSize: job.bytes })];
        if (raw.reduce((sum, b) => sum + b.byteLength, 0) !== job.bytes)
          throw new Error(`${PACK_BINARY_FILE} has a frame of the wrong size`);
        await writeAt(fd, raw, job.at);
      }
    };
    // Two decoders even on one core: while one frame is written the other decodes. The pool has four
    // threads; writes and the GL libraries' copies need the others.
    const parallel = Math.min(jobs.length, Math.max(2, Math.min(3, availableParallelism())));
    await Promise.all([...Array.from({ length: parallel }, worker), copySwiftShader(packDir, target)]);
    fs.closeSync(fd);
    out = undefined;
    await rename(partial, target);
    return target;
  } catch (error) {
    if (out !== undefined) fs.closeSync(out);
    await rm(partial, { force: true });
    throw error;
  } finally {
    fs.closeSync(source);
  }
}

/** fs.writev on the pool (one call for a stored frame's ~200 blocks), looping over short writes. */
function writeAt(fd: number, buffers: Buffer[], position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const from = (rest: Buffer[], at: number) =>
      fs.writev(fd, rest, at, (error, written) => {
        if (error) return reject(error);
        let left = written;
        while (rest.length > 0 && left >= (rest[0] as Buffer).byteLength) {
          left -= (rest.shift() as Buffer).byteLength;
        }
        if (rest.length === 0) return resolve();
        rest[0] = (rest[0] as Buffer).subarray(left);
        from(rest, at + written);
      });
    from(
      buffers.filter((b) => b.byteLength > 0),
      position,
    );
  });
}

/**
 * The contents of a stored zstd frame (see `storedZstdFrame`): its raw blocks' bytes, views into
 * `frame`, in order. Throws if the frame holds anything but raw blocks.
 */
export function rawBlocks(frame: Buffer): Buffer[] {
  const descriptor = frame[4] ?? 0;
  if (frame.readUInt32LE(0) !== 0xfd2fb528 || descriptor !== 0b1010_0000)
    throw new Error(`${PACK_BINARY_FILE} has a stored frame with an unexpected header`);
  const blocks: Buffer[] = [];
  for (let at = 9, last = 0; !last; ) {
    if (at + 3 > frame.byteLength) throw new Error(`${PACK_BINARY_FILE} has a truncated stored frame`);
    const header = frame.readUIntLE(at, 3);
    last = header & 1;
    const size = header >>> 3;
    if (((header >> 1) & 3) !== 0 || at + 3 + size > frame.byteLength)
      throw new Error(`${PACK_BINARY_FILE} has a stored frame with a block that is not raw`);
    blocks.push(frame.subarray(at + 3, at + 3 + size));
    at += 3 + size;
  }
  return blocks;
}

async function copySwiftShader(packDir: string, target: string): Promise<void> {
  const from = path.join(packDir, SWIFTSHADER_DIR);
  const files = await readdir(from);
  // Each copied aside and renamed: the package takes an existing libGLESv2.so for a complete set.
  await Promise.all(
    files.map(async (file) => {
      const to = path.join(path.dirname(target), file);
      const partial = `${to}.${process.pid}.partial`;
      await copyFile(path.join(from, file), partial);
      await rename(partial, to);
    }),
  );
}
