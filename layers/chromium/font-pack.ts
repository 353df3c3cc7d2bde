/**
 * Kiln's font pack: the faces Chromium needs beyond the Open Sans that @sparticuz/chromium ships, all
 * from npm packages pinned exactly in the root package.json. The same builder fills the Lambda layer's
 * `fonts/` (→ /opt/fonts) at synth time and a local directory the local stack points Chromium at, so a
 * document renders with the same faces in both places. Pure Node (fs, zlib): no network, no tools.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";

export interface FontSource {
  readonly package: string;
  /** Paths inside the package; `*` matches within one path segment. */
  readonly files: readonly string[];
  /** What the faces are for, for the manifest and the docs. */
  readonly covers: string;
  /** WOFF 1.0 files are turned into plain TrueType: fontconfig skips WOFF, so Chromium would never find them. */
  readonly convert?: "woff";
}

const regularAndBold = (prefix: string) => [
  `400Regular/${prefix}_400Regular.ttf`,
  `700Bold/${prefix}_700Bold.ttf`,
];

/** What goes into the pack. Changing it (or a pinned version) changes the pack's hash, so it is rebuilt. */
export const FONT_SOURCES: readonly FontSource[] = [
  {
    package: "@expo-google-fonts/noto-sans",
    files: [
      ...regularAndBold("NotoSans"),
      "400Regular_Italic/NotoSans_400Regular_Italic.ttf",
      "700Bold_Italic/NotoSans_700Bold_Italic.ttf",
    ],
    covers: "Latin, Greek and Cyrillic (sans-serif)",
  },
  {
    package: "@expo-google-fonts/noto-serif",
    files: regularAndBold("NotoSerif"),
    covers: "Latin, Greek and Cyrillic (serif)",
  },
  { package: "@expo-google-fonts/noto-sans-jp", files: regularAndBold("NotoSansJP"), covers: "Japanese" },
  { package: "@expo-google-fonts/noto-sans-kr", files: regularAndBold("NotoSansKR"), covers: "Korean" },
  {
    package: "@expo-google-fonts/noto-sans-sc",
    files: regularAndBold("NotoSansSC"),
    covers: "Simplified Chinese",
  },
  {
    package: "@expo-google-fonts/noto-sans-arabic",
    files: regularAndBold("NotoSansArabic"),
    covers: "Arabic",
  },
  {
    package: "@expo-google-fonts/noto-sans-hebrew",
    files: regularAndBold("NotoSansHebrew"),
    covers: "Hebrew",
  },
  {
    package: "@fontsource/noto-color-emoji",
    // The "emoji" subset is the whole font: ZWJ sequences need every part in one face.
    files: ["files/noto-color-emoji-emoji-400-normal.woff"],
    covers: "colour emoji",
    convert: "woff",
  },
];

/**
 * Generic families, most preferred first. Open Sans stays the default sans-serif (what Kiln rendered
 * before the pack existed); the CJK faces come before emoji so that digits and punctuation never pick
 * the emoji font.
 */
const FALLBACK = ["Noto Sans JP", "Noto Sans KR", "Noto Sans SC", "Noto Sans Arabic", "Noto Sans Hebrew"];
const GENERIC_FAMILIES: Readonly<Record<string, readonly string[]>> = {
  "sans-serif": ["Open Sans", "Noto Sans", ...FALLBACK, "Noto Color Emoji"],
  serif: ["Noto Serif", "Noto Sans", ...FALLBACK, "Noto Color Emoji"],
  monospace: ["Noto Sans", ...FALLBACK, "Noto Color Emoji"],
  emoji: ["Noto Color Emoji"],
};

/** Name of the fontconfig file inside a pack. */
export const FONT_CONFIG_FILE = "kiln-fonts.conf";
/** Where the pack is on Lambda (the layer's fonts/) and the fontconfig file the worker points at. */
export const LAMBDA_FONT_DIR = "/opt/fonts";
export const LAMBDA_FONT_CONFIG = `${LAMBDA_FONT_DIR}/${FONT_CONFIG_FILE}`;
/** The package's own Open Sans, unpacked in the layer's Chromium pack (chromium-pack.ts) rather than in /tmp. */
const LAMBDA_CHROMIUM_FONT_DIR = "/opt/chromium/fonts";
const LAMBDA_CACHE_DIR = "/tmp/kiln-fonts-cache";

const MANIFEST_FILE = "manifest.json";
/** Bumped when the builder's output changes for the same sources (2: Open Sans moved to /opt/chromium/fonts). */
const BUILDER_VERSION = 2;

export interface FontPackFile {
  readonly file: string;
  readonly package: string;
  readonly version: string;
  readonly from: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface FontPackManifest {
  readonly builderVersion: number;
  /** sha256 over the sources and pinned versions: equal hashes, equal packs. */
  readonly hash: string;
  readonly files: readonly FontPackFile[];
}

const REPO_ROOT = (() => {
  try {
    return fileURLToPath(new URL("../../", import.meta.url));
  } catch {
    // Bundled into a function where this file has no place in a checkout: only Lambda paths apply.
    return process.cwd();
  }
})();
export const DEFAULT_NODE_MODULES = path.join(REPO_ROOT, "node_modules");

/** The fontconfig file for a pack: the same rules everywhere, only the directories differ. */
export function fontConfigXml(options: {
  readonly fontDirs: readonly string[];
  readonly cacheDir: string;
}): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const aliases = Object.entries(GENERIC_FAMILIES).map(
    ([generic, families]) =>
      `  <alias binding="same">\n    <family>${generic}</family>\n    <prefer>\n${families
        .map((f) => `      <family>${esc(f)}</family>`)
        .join("\n")}\n    </prefer>\n  </alias>`,
  );
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    "<!-- Generated by Kiln (layers/chromium/font-pack.ts). -->",
    "<fontconfig>",
    ...options.fontDirs.map((d) => `  <dir>${esc(d)}</dir>`),
    `  <cachedir>${esc(options.cacheDir)}</cachedir>`,
    ...aliases,
    "</fontconfig>",
    "",
  ].join("\n");
}

/** The hash that names a pack: sources, the installed versions of their packages, the builder. */
export function fontPackHash(nodeModulesDir = DEFAULT_NODE_MODULES): string {
  const parts = FONT_SOURCES.map((s) => ({
    ...s,
    version: packageVersion(nodeModulesDir, s.package),
  }));
  return createHash("sha256")
    .update(JSON.stringify({ builder: BUILDER_VERSION, parts }))
    .digest("hex");
}

/**
 * Writes the pack's font files, its manifest and the Lambda fontconfig file into `outDir` (created if
 * needed). Synchronous, because CDK's local bundling is.
 */
export function buildFontPack(outDir: string, nodeModulesDir = DEFAULT_NODE_MODULES): FontPackManifest {
  fs.mkdirSync(outDir, { recursive: true });
  const files: FontPackFile[] = [];
  for (const source of FONT_SOURCES) {
    const packageDir = path.join(nodeModulesDir, source.package);
    const version = packageVersion(nodeModulesDir, source.package);
    for (const pattern of source.files) {
      const matches = expand(packageDir, pattern);
      if (matches.length === 0) {
        throw new Error(
          `The font pack needs ${source.package}/${pattern}, which is not installed: run npm install.`,
        );
      }
      for (const relative of matches) {
        const input = fs.readFileSync(path.join(packageDir, relative));
        const bytes = source.convert === "woff" ? woffToSfnt(input, `${source.package}/${relative}`) : input;
        const name = path.basename(relative).replace(/\.woff$/, ".ttf");
        fs.writeFileSync(path.join(outDir, name), bytes);
        files.push({
          file: name,
          package: source.package,
          version,
          from: relative,
          sha256: createHash("sha256").update(bytes).digest("hex"),
          bytes: bytes.byteLength,
        });
      }
    }
  }
  const manifest: FontPackManifest = {
    builderVersion: BUILDER_VERSION,
    hash: fontPackHash(nodeModulesDir),
    files,
  };
  fs.writeFileSync(path.join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.writeFileSync(
    path.join(outDir, FONT_CONFIG_FILE),
    fontConfigXml({ fontDirs: [LAMBDA_FONT_DIR, LAMBDA_CHROMIUM_FONT_DIR], cacheDir: LAMBDA_CACHE_DIR }),
  );
  return manifest;
}

export interface LocalFontPack {
  /** The pack's font files, the same bytes as /opt/fonts in the layer. */
  readonly dir: string;
  /** A fontconfig file for this machine: set FONTCONFIG_FILE to it before Chromium starts. */
  readonly configFile: string;
}

/**
 * The pack on this machine, built once per content hash under `baseDir` (default: the OS temp dir,
 * next to the Open Sans that @sparticuz/chromium extracts there) and reused by every later process.
 * Concurrent first builds are safe: each builds aside and renames into place.
 */
export function ensureLocalFontPack(
  options: { baseDir?: string; nodeModulesDir?: string } = {},
): LocalFontPack {
  const baseDir = options.baseDir ?? tmpdir();
  const nodeModulesDir = options.nodeModulesDir ?? DEFAULT_NODE_MODULES;
  const hash = fontPackHash(nodeModulesDir);
  const dir = path.join(baseDir, `kiln-font-pack-${hash.slice(0, 16)}`);
  if (!isComplete(dir, hash)) {
    const staging = `${dir}.${process.pid}.${randomBytes(4).toString("hex")}`;
    try {
      buildFontPack(staging, nodeModulesDir);
      fs.renameSync(staging, dir);
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true });
      // Another process won the rename: its pack is as good as ours.
      if (!isComplete(dir, hash)) throw error;
    }
  }
  const configFile = path.join(dir, "local", FONT_CONFIG_FILE);
  const xml = fontConfigXml({
    fontDirs: [dir, path.join(tmpdir(), "fonts")],
    cacheDir: path.join(dir, "local", "cache"),
  });
  if (readOrUndefined(configFile) !== xml) {
    fs.mkdirSync(path.dirname(configFile), { recursive: true });
    const temp = `${configFile}.${process.pid}.${randomBytes(4).toString("hex")}`;
    fs.writeFileSync(temp, xml);
    fs.renameSync(temp, configFile);
  }
  return { dir, configFile };
}

function isComplete(dir: string, hash: string): boolean {
  const text = readOrUndefined(path.join(dir, MANIFEST_FILE));
  if (!text) return false;
  try {
    const manifest = JSON.parse(text) as FontPackManifest;
    return manifest.hash === hash && manifest.files.every((f) => fs.existsSync(path.join(dir, f.file)));
  } catch {
    return false;
  }
}

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function packageVersion(nodeModulesDir: string, name: string): string {
  const manifest = path.join(nodeModulesDir, name, "package.json");
  if (!fs.existsSync(manifest)) {
    throw new Error(
      `The font pack needs ${name}, which is not installed in ${nodeModulesDir}: run npm install.`,
    );
  }
  const version = (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version?: string }).version;
  if (!version) throw new Error(`${manifest} has no version.`);
  return version;
}

/** Files under `dir` matching `pattern` (`*` within a segment), sorted so the pack is the same every time. */
function expand(dir: string, pattern: string): string[] {
  const segments = pattern.split("/");
  let found = [""];
  for (const segment of segments) {
    const next: string[] = [];
    for (const base of found) {
      if (!segment.includes("*")) {
        if (fs.existsSync(path.join(dir, base, segment))) next.push(path.posix.join(base, segment));
        continue;
      }
      const re = new RegExp(`^${segment.split("*").map(escapeRegExp).join("[^/]*")}$`);
      const entries = fs.existsSync(path.join(dir, base)) ? fs.readdirSync(path.join(dir, base)) : [];
      for (const entry of entries) if (re.test(entry)) next.push(path.posix.join(base, entry));
    }
    found = next;
  }
  return found.sort(naturalOrder);
}

const naturalOrder = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });
const escapeRegExp = (s: string) => s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");

/**
 * WOFF 1.0 → the sfnt (TrueType/OpenType) it wraps: each table inflated where it was compressed, a new
 * table directory, tables 4-byte aligned in tag order. Table checksums are carried over and verified.
 */
export function woffToSfnt(woff: Uint8Array, name = "font"): Buffer {
  const input = Buffer.from(woff.buffer, woff.byteOffset, woff.byteLength);
  const fail = (why: string): never => {
    throw new Error(`${name} is not a usable WOFF 1.0 file: ${why}.`);
  };
  if (input.byteLength < 44 || input.toString("latin1", 0, 4) !== "wOFF") fail("no wOFF signature");
  const flavor = input.readUInt32BE(4);
  const numTables = input.readUInt16BE(12);
  if (numTables === 0 || 44 + numTables * 20 > input.byteLength) fail("bad table count");

  const tables: Array<{ tag: number; checksum: number; data: Buffer }> = [];
  for (let i = 0; i < numTables; i++) {
    const entry = 44 + i * 20;
    const tag = input.readUInt32BE(entry);
    const offset = input.readUInt32BE(entry + 4);
    const compLength = input.readUInt32BE(entry + 8);
    const origLength = input.readUInt32BE(entry + 12);
    const checksum = input.readUInt32BE(entry + 16);
    if (offset + compLength > input.byteLength) fail(`table ${i} runs past the end`);
    const stored = input.subarray(offset, offset + compLength);
    const data = compLength < origLength ? inflateSync(stored) : Buffer.from(stored);
    if (data.byteLength !== origLength) fail(`table ${i} inflates to the wrong length`);
    // `head` holds checksumAdjustment, which its own checksum skips.
    if (tag !== HEAD_TAG && tableChecksum(data) !== checksum) fail(`table ${i} has a bad checksum`);
    tables.push({ tag, checksum, data });
  }
  tables.sort((a, b) => a.tag - b.tag);

  const entrySelector = Math.floor(Math.log2(numTables));
  const searchRange = 2 ** entrySelector * 16;
  const headerBytes = 12 + numTables * 16;
  const padded = (n: number) => (n + 3) & ~3;
  const total = tables.reduce((sum, t) => sum + padded(t.data.byteLength), headerBytes);
  const out = Buffer.alloc(total);
  out.writeUInt32BE(flavor, 0);
  out.writeUInt16BE(numTables, 4);
  out.writeUInt16BE(searchRange, 6);
  out.writeUInt16BE(entrySelector, 8);
  out.writeUInt16BE(numTables * 16 - searchRange, 10);
  let offset = headerBytes;
  tables.forEach((t, i) => {
    const record = 12 + i * 16;
    out.writeUInt32BE(t.tag, record);
    out.writeUInt32BE(t.checksum, record + 4);
    out.writeUInt32BE(offset, record + 8);
    out.writeUInt32BE(t.data.byteLength, record + 12);
    t.data.copy(out, offset);
    offset += padded(t.data.byteLength);
  });
  return out;
}

const HEAD_TAG = 0x68656164; // "head"

function tableChecksum(data: Buffer): number {
  let sum = 0;
  const whole = data.byteLength & ~3;
  for (let i = 0; i < whole; i += 4) sum = (sum + data.readUInt32BE(i)) >>> 0;
  if (whole < data.byteLength) {
    const tail = Buffer.alloc(4);
    data.copy(tail, 0, whole);
    sum = (sum + tail.readUInt32BE(0)) >>> 0;
  }
  return sum;
}
