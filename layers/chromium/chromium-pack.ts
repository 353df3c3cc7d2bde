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
 * Pure Node (fs, zlib, tar parsing below): no network, no tools.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { copyFile, readdir, rename, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { brotliDecompressSync, constants, zstdCompressSync, zstdDecompress } from "node:zlib";
import { DEFAULT_NODE_MODULES } from "./font-pack.js";

export const CHROMIUM_PACKAGE = "@sparticuz/chromium";
/** Where the layer's `chromium/` directory is on Lambda. */
export const LAMBDA_CHROMIUM_PACK_DIR = "/opt/chromium";
export const PACK_MANIFEST_FILE = "pack.json";
export const PACK_BINARY_FILE = "chromium.zst";
const SWIFTSHADER_DIR = "swiftshader";

/** Bumped when the pack's layout or encoding changes for the same package. */
const BUILDER_VERSION = 3;
/** 8 frames: enough to keep two or more cores busy, small enough (26 MB) to decode in memory. */
const FRAME_BYTES = 26 * 1024 * 1024;
/** Level 9 decodes as fast as 19 and builds in seconds, not minutes; 79 MB against 71 MB. */
const ZSTD_LEVEL = 9;
/**
 * How much larger the layer may grow for frames stored rather than compressed. Decoding a frame costs
 * CPU in proportion to its zstd sequences (~40 ns each here); a stored one is a copy. 32 MiB buys the
 * two densest of Chromium 153's eight frames (a third of the decoding) and keeps the layer at 193 MiB,
 * under the synth's 230 MiB; a third frame (48 MiB) measured no faster.
 */
export const STORED_EXTRA_BYTES = 32 * 1024 * 1024;
/** zstd's largest block: a stored frame is a run of raw blocks of this size. */
const ZSTD_BLOCK_MAX = 128 * 1024;

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

interface PackageFiles {
  readonly version: string;
  readonly binDir: string;
}

function packageFiles(nodeModulesDir: string): PackageFiles {
  const dir = path.join(nodeModulesDir, CHROMIUM_PACKAGE);
  const manifest = path.join(dir, "package.json");
  if (!fs.existsSync(manifest)) {
    throw new Error(`${CHROMIUM_PACKAGE} is not installed in ${nodeModulesDir}: run npm ci.`);
  }
  const version = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version?: string }).version;
  if (!version) throw new Error(`${manifest} has no version.`);
  return { version, binDir: path.join(dir, "bin") };
}

/** The hash that names a pack: builder, package version and the size of its binary archive. */
export function chromiumPackHash(nodeModulesDir = DEFAULT_NODE_MODULES): string {
  const { version, binDir } = packageFiles(nodeModulesDir);
  const archive = fs.statSync(path.join(binDir, "chromium.br")).size;
  return createHash("sha256")
    .update(
      JSON.stringify({
        builder: BUILDER_VERSION,
        version,
        archive,
        FRAME_BYTES,
        ZSTD_LEVEL,
        STORED_EXTRA_BYTES,
      }),
    )
    .digest("hex");
}

/** Writes the pack into `outDir` (created if needed). Synchronous, because CDK's local bundling is. */
export function buildChromiumPack(
  outDir: string,
  nodeModulesDir = DEFAULT_NODE_MODULES,
): ChromiumPackManifest {
  const { version, binDir } = packageFiles(nodeModulesDir);
  fs.mkdirSync(outDir, { recursive: true });
  const binary = brotliDecompressSync(fs.readFileSync(path.join(binDir, "chromium.br")));
  const encoded: Array<{ raw: Buffer; frame: Buffer; stored: boolean }> = [];
  for (let start = 0; start < binary.byteLength; start += FRAME_BYTES) {
    const raw = binary.subarray(start, Math.min(start + FRAME_BYTES, binary.byteLength));
    const frame = zstdCompressSync(raw, {
      params: {
        [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL,
        // The decoder is told the size, so it can decode each frame in one pass into one buffer.
        [constants.ZSTD_c_contentSizeFlag]: 1,
        [constants.ZSTD_c_checksumFlag]: 1,
      },
      pledgedSrcSize: raw.byteLength,
    });
    encoded.push({ raw, frame, stored: false });
  }
  // Densest first: the most decode CPU saved per byte the layer grows.
  const density = (e: { raw: Buffer; frame: Buffer }) =>
    zstdSequenceCount(e.frame) / Math.max(1, e.raw.byteLength - e.frame.byteLength);
  let extra = 0;
  for (const e of [...encoded].sort((a, b) => density(b) - density(a))) {
    const grows = e.raw.byteLength - e.frame.byteLength;
    if (extra + grows > STORED_EXTRA_BYTES) continue;
    extra += grows;
    e.frame = storedZstdFrame(e.raw);
    e.stored = true;
  }
  const frames: Array<{ offset: number; length: number; bytes: number; stored: boolean }> = [];
  const fd = fs.openSync(path.join(outDir, PACK_BINARY_FILE), "w");
  try {
    let offset = 0;
    for (const { raw, frame, stored } of encoded) {
      fs.writeSync(fd, frame);
      frames.push({ offset, length: frame.byteLength, bytes: raw.byteLength, stored });
      offset += frame.byteLength;
    }
  } finally {
    fs.closeSync(fd);
  }
  untar(
    brotliDecompressSync(fs.readFileSync(path.join(binDir, "al2023.tar.br"))),
    path.join(outDir, "al2023"),
  );
  untar(
    brotliDecompressSync(fs.readFileSync(path.join(binDir, "swiftshader.tar.br"))),
    path.join(outDir, SWIFTSHADER_DIR),
  );
  // The archive holds fonts/fonts.conf (Lambda paths, unused: Kiln has its own) and fonts/Open_Sans/.
  const fontsTar = path.join(outDir, ".fonts-tar");
  untar(brotliDecompressSync(fs.readFileSync(path.join(binDir, "fonts.tar.br"))), fontsTar);
  fs.cpSync(path.join(fontsTar, "fonts", "Open_Sans"), path.join(outDir, "fonts"), { recursive: true });
  fs.rmSync(fontsTar, { recursive: true, force: true });

  const manifest: ChromiumPackManifest = {
    builderVersion: BUILDER_VERSION,
    hash: chromiumPackHash(nodeModulesDir),
    chromiumVersion: version,
    binary: {
      bytes: binary.byteLength,
      sha256: createHash("sha256").update(binary).digest("hex"),
      frames,
    },
  };
  fs.writeFileSync(path.join(outDir, PACK_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * The pack on this machine, built once per content hash under `baseDir` (default: the OS temp dir) and
 * reused by later synths and benches: building it takes ~15 s. Concurrent first builds are safe.
 */
export function ensureChromiumPack(options: { baseDir?: string; nodeModulesDir?: string } = {}): string {
  const nodeModulesDir = options.nodeModulesDir ?? DEFAULT_NODE_MODULES;
  const hash = chromiumPackHash(nodeModulesDir);
  const dir = path.join(options.baseDir ?? tmpdir(), `kiln-chromium-pack-${hash.slice(0, 16)}`);
  if (readManifest(dir)?.hash !== hash) {
    const staging = `${dir}.${process.pid}.${randomBytes(4).toString("hex")}`;
    try {
      buildChromiumPack(staging, nodeModulesDir);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(staging, dir);
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true });
      if (readManifest(dir)?.hash !== hash) throw error;
    }
  }
  return dir;
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

/**
 * `raw` as a zstd frame of raw blocks: any zstd decoder copies it out. No checksum (zstd's is XXH64,
 * which Node lacks); the frame's size is still checked, and the manifest holds the binary's sha256.
 */
export function storedZstdFrame(raw: Buffer): Buffer {
  const blocks = Math.max(1, Math.ceil(raw.byteLength / ZSTD_BLOCK_MAX));
  const out = Buffer.allocUnsafe(4 + 1 + 4 + blocks * 3 + raw.byteLength);
  out.writeUInt32LE(0xfd2fb528, 0);
  // Frame header descriptor: 4-byte content size, single segment (no window descriptor), no checksum.
  out[4] = 0b1010_0000;
  out.writeUInt32LE(raw.byteLength, 5);
  let at = 9;
  for (let i = 0; i < blocks; i++) {
    const block = raw.subarray(i * ZSTD_BLOCK_MAX, (i + 1) * ZSTD_BLOCK_MAX);
    // Block header: size << 3 | type 0 (raw) << 1 | last.
    out.writeUIntLE((block.byteLength << 3) | (i === blocks - 1 ? 1 : 0), at, 3);
    block.copy(out, at + 3);
    at += 3 + block.byteLength;
  }
  return out;
}

/**
 * How many sequences (match + literals instructions) a zstd frame holds: what its decoding costs,
 * better than its ratio (raw and Huffman-coded literals decode at a fraction of a sequence's cost).
 */
export function zstdSequenceCount(frame: Buffer): number {
  const descriptor = frame[4] ?? 0;
  const singleSegment = (descriptor >> 5) & 1;
  const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6] ?? 0;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3] ?? 0;
  let at = 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes;
  let sequences = 0;
  for (let last = 0; !last && at + 3 <= frame.byteLength; ) {
    const header = frame.readUIntLE(at, 3);
    last = header & 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    at += 3;
    if (type === 1) {
      at += 1; // RLE: one byte repeated
      continue;
    }
    if (type === 2) sequences += blockSequenceCount(frame.subarray(at, at + size));
    at += size;
  }
  return sequences;
}

/** A compressed block: the literals section, then the sequences section, which starts with its count. */
function blockSequenceCount(block: Buffer): number {
  const b0 = block[0] ?? 0;
  const literalsType = b0 & 3;
  const sizeFormat = (b0 >> 2) & 3;
  let literalsEnd: number;
  if (literalsType < 2) {
    // Raw or RLE literals: a 1- to 3-byte header, then the literals or one byte.
    const [header, regenerated] =
      (sizeFormat & 1) === 0
        ? [1, b0 >> 3]
        : sizeFormat === 1
          ? [2, (b0 >> 4) + ((block[1] ?? 0) << 4)]
          : [3, (b0 >> 4) + ((block[1] ?? 0) << 4) + ((block[2] ?? 0) << 12)];
    literalsEnd = header + (literalsType === 0 ? regenerated : 1);
  } else {
    // Huffman-coded literals: a 3- to 5-byte header that ends with their compressed size.
    const word = block.readUInt32LE(0);
    literalsEnd =
      sizeFormat < 2
        ? 3 + ((word >>> 14) & 0x3ff)
        : sizeFormat === 2
          ? 4 + (word >>> 18)
          : 5 + (word >>> 22) + ((block[4] ?? 0) << 10);
  }
  const s0 = block[literalsEnd] ?? 0;
  const s1 = block[literalsEnd + 1] ?? 0;
  if (s0 < 128) return s0;
  if (s0 < 255) return ((s0 - 128) << 8) + s1;
  return s1 + ((block[literalsEnd + 2] ?? 0) << 8) + 0x7f00;
}

/** Unpacks a ustar archive (the package's al2023 and fonts tarballs: files and directories only). */
function untar(tar: Buffer, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  let longName: string | undefined;
  for (let at = 0; at + 512 <= tar.byteLength; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) =>
      header.toString("utf8", start, start + length).replace(/\0.*$/s, "");
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1) || "0";
    const prefix = field(345, 155);
    const body = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = body.toString("utf8").replace(/\0.*$/s, "");
      continue;
    }
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    const target = path.resolve(outDir, name);
    if (!target.startsWith(path.resolve(outDir) + path.sep))
      throw new Error(`tar entry ${name} escapes its directory`);
    const mode = Number.parseInt(field(100, 8).trim() || "644", 8) & 0o777;
    if (type === "5") fs.mkdirSync(target, { recursive: true });
    else if (type === "0" || type === "7") {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, body, { mode });
    } else if (type !== "x" && type !== "g") {
      throw new Error(`tar entry ${name} has type ${type}, which the pack does not expect`);
    }
  }
}
