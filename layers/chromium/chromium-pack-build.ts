/**
 * Builds Kiln's Chromium pack (see chromium-pack.ts for its layout) from the installed @sparticuz/chromium
 * package. Synth-time and bench-time only: the CDK's layer bundling and `kiln bench` import it; no Lambda
 * bundle may, since it carries the zstd encoder and the brotli archives' unpacking.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { brotliDecompressSync, constants, zstdCompressSync } from "node:zlib";
import {
  CHROMIUM_PACKAGE,
  type ChromiumPackManifest,
  PACK_BINARY_FILE,
  PACK_MANIFEST_FILE,
  readManifest,
  SWIFTSHADER_DIR,
} from "./chromium-pack.js";
import { DEFAULT_NODE_MODULES } from "./font-pack.js";

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
