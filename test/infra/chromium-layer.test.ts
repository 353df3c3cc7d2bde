import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import {
  extractChromiumBinary,
  PACK_BINARY_FILE,
  rawBlocks,
  readManifest,
} from "../../layers/chromium/chromium-pack.js";
import {
  ensureChromiumPack,
  STORED_EXTRA_BYTES,
  storedZstdFrame,
  zstdSequenceCount,
} from "../../layers/chromium/chromium-pack-build.js";
import { FONT_CONFIG_FILE, LAMBDA_FONT_CONFIG } from "../../layers/chromium/font-pack.js";
import {
  bundleChromiumLayer,
  CHROMIUM_PACKAGE,
  checkChromiumPins,
  directoryBytes,
  LAYER_BUDGET_BYTES,
} from "../../lib/constructs/chromium-layer.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const nodeModulesDir = join(REPO_ROOT, "node_modules");
const scratch = mkdtempSync(join(tmpdir(), "kiln-layer-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function layerDir(version: string, withFonts: boolean): string {
  const dir = mkdtempSync(join(scratch, "src-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ dependencies: { [CHROMIUM_PACKAGE]: version } }));
  if (withFonts) {
    mkdirSync(join(dir, "fonts"));
    writeFileSync(join(dir, "fonts", "NotoSansCJK.ttc"), "font bytes");
  }
  return dir;
}

describe("Chromium layer", () => {
  it("pins @sparticuz/chromium exactly, to the same version as the root package.json", () => {
    const layerPin = readJson(join(REPO_ROOT, "layers/chromium/package.json")).dependencies[CHROMIUM_PACKAGE];
    const rootPin = readJson(join(REPO_ROOT, "package.json")).dependencies[CHROMIUM_PACKAGE];
    expect(layerPin).toMatch(/^\d+\.\d+\.\d+$/);
    expect(layerPin).toBe(rootPin);
    expect(checkChromiumPins({ layerDir: join(REPO_ROOT, "layers/chromium"), nodeModulesDir })).toBe(
      layerPin,
    );
  });

  it("refuses to build when the layer pin and the installed package differ", () => {
    expect(() => checkChromiumPins({ layerDir: layerDir("152.0.0", false), nodeModulesDir })).toThrow(
      /pins @sparticuz\/chromium 152\.0\.0 but 153\.0\.0 is installed/,
    );
    expect(() => checkChromiumPins({ layerDir: layerDir("^153.0.0", false), nodeModulesDir })).toThrow(
      /exact version/,
    );
  });

  // Building the Chromium pack takes ~10 s the first time on a machine; later runs reuse it.
  it("copies the package, its runtime dependencies and fonts/, and no AWS SDK", () => {
    const out = join(scratch, "out");
    const packages = bundleChromiumLayer(out, { layerDir: layerDir("153.0.0", true), nodeModulesDir });
    const modules = join(out, "nodejs", "node_modules");
    expect(readJson(join(modules, CHROMIUM_PACKAGE, "package.json")).version).toBe("153.0.0");
    // The package's archives are replaced by the Chromium pack: both would not fit the limit.
    expect(existsSync(join(modules, CHROMIUM_PACKAGE, "bin"))).toBe(false);
    expect(existsSync(join(modules, CHROMIUM_PACKAGE, "build", "index.js"))).toBe(true);
    for (const file of [
      PACK_BINARY_FILE,
      "pack.json",
      "swiftshader/libGLESv2.so",
      "swiftshader/libEGL.so",
      "al2023/lib/libnss3.so",
      "fonts/OpenSans-Regular.ttf",
    ]) {
      expect(existsSync(join(out, "chromium", file)), file).toBe(true);
    }
    expect(directoryBytes(out)).toBeLessThanOrEqual(LAYER_BUDGET_BYTES);
    // Every declared dependency resolves inside the layer.
    for (const dep of Object.keys(
      readJson(join(modules, CHROMIUM_PACKAGE, "package.json")).dependencies ?? {},
    )) {
      expect(existsSync(join(modules, dep, "package.json")), dep).toBe(true);
    }
    expect(packages.some((p) => p.includes("@aws-sdk"))).toBe(false);
    expect(existsSync(join(modules, "@aws-sdk"))).toBe(false);
    expect(readFileSync(join(out, "fonts", "NotoSansCJK.ttc"), "utf8")).toBe("font bytes");
  });

  it("ships Kiln's font pack at fonts/ (→ /opt/fonts) with the fontconfig file the worker points at", () => {
    const out = join(scratch, "out-fonts");
    bundleChromiumLayer(out, { layerDir: layerDir("153.0.0", false), nodeModulesDir });
    const fonts = join(out, "fonts");
    for (const face of [
      "NotoSans_400Regular.ttf",
      "NotoSansJP_400Regular.ttf",
      "NotoSansKR_700Bold.ttf",
      "NotoSansSC_400Regular.ttf",
      "NotoSansArabic_400Regular.ttf",
      "NotoSansHebrew_400Regular.ttf",
      "noto-color-emoji-emoji-400-normal.ttf",
    ]) {
      expect(existsSync(join(fonts, face)), face).toBe(true);
    }
    const conf = readFileSync(join(fonts, FONT_CONFIG_FILE), "utf8");
    expect(LAMBDA_FONT_CONFIG).toBe(`/opt/fonts/${FONT_CONFIG_FILE}`);
    expect(conf).toContain("<dir>/opt/fonts</dir>");
    // Open Sans, from the Chromium pack: nothing but the binary is extracted to /tmp.
    expect(conf).toContain("<dir>/opt/chromium/fonts</dir>");
    expect(conf).not.toContain("<dir>/tmp/fonts</dir>");
    const manifest = readJson(join(fonts, "manifest.json")) as {
      files: Array<{ file: string; version: string }>;
    };
    expect(manifest.files.every((f) => /^\d+\.\d+\.\d+$/.test(f.version))).toBe(true);
    // The local stack's own fontconfig file and cache stay out of the layer.
    expect(existsSync(join(fonts, "local"))).toBe(false);
  });

  it("re-packs the package's own binary: zstd frames that decode to the same bytes", async () => {
    const pack = ensureChromiumPack({ nodeModulesDir });
    const manifest = readManifest(pack);
    expect(manifest?.chromiumVersion).toBe("153.0.0");
    expect(manifest?.binary.frames.length).toBeGreaterThan(1);
    const original = brotliDecompressSync(
      readFileSync(join(nodeModulesDir, CHROMIUM_PACKAGE, "bin", "chromium.br")),
    );
    const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
    expect(manifest?.binary.sha256).toBe(sha256(original));
    // Some frames are stored to save decoding, within a bound on how much larger the layer grows.
    const frames = manifest?.binary.frames ?? [];
    const stored = frames.filter((f) => f.stored);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(frames.length);
    const grown = stored.reduce((sum, f) => sum + f.length - f.bytes, 0);
    expect(grown).toBeLessThanOrEqual(STORED_EXTRA_BYTES);

    const tmp = mkdtempSync(join(scratch, "tmp-"));
    const binary = await extractChromiumBinary(pack, join(tmp, "chromium"));
    expect(sha256(readFileSync(binary))).toBe(sha256(original));
    // Chromium loads its GL libraries from its own directory; no partial file is left behind.
    expect(existsSync(join(tmp, "libGLESv2.so"))).toBe(true);
    expect(readFileSync(join(tmp, "vk_swiftshader_icd.json"), "utf8")).toContain("libvk_swiftshader.so");
    expect(existsSync(join(tmp, "chromium"))).toBe(true);
    expect(readdirSync(tmp).some((f) => f.endsWith(".partial"))).toBe(false);
    expect(statSync(binary).mode & 0o100).toBe(0o100);
  });

  it("writes stored zstd frames that any zstd decoder copies out, across block boundaries", () => {
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
    const frame = storedZstdFrame(bytes);
    expect(zstdDecompressSync(frame).equals(bytes)).toBe(true);
    // Raw blocks of at most 128 KiB, each behind a 3-byte header, after a 9-byte frame header.
    expect(frame.byteLength).toBe(bytes.byteLength + 9 + 3 * 3);
    expect(zstdDecompressSync(storedZstdFrame(Buffer.alloc(0))).byteLength).toBe(0);
    expect(zstdSequenceCount(frame)).toBe(0);
    // The extraction writes a stored frame's blocks as they are, without a decoder.
    const blocks = rawBlocks(frame);
    expect(blocks.map((b) => b.byteLength)).toEqual([131_072, 131_072, 37_856]);
    expect(Buffer.concat(blocks).equals(bytes)).toBe(true);
    const compressed = zstdCompressSync(bytes, { params: { [constants.ZSTD_c_contentSizeFlag]: 1 } });
    expect(() => rawBlocks(compressed)).toThrow(/unexpected header|not raw/);
    expect(() => rawBlocks(frame.subarray(0, 200_000))).toThrow(/truncated|not raw/);
  });

  it("counts the sequences of a compressed zstd frame: more repeats, more sequences", () => {
    const compress = (b: Buffer) =>
      zstdCompressSync(b, {
        params: { [constants.ZSTD_c_contentSizeFlag]: 1, [constants.ZSTD_c_checksumFlag]: 1 },
        pledgedSrcSize: b.byteLength,
      });
    // Each 16-byte record repeats one of a few earlier ones with a new counter: one match per record.
    const records = (n: number) =>
      Buffer.concat(
        Array.from({ length: n }, (_, i) => Buffer.from(`k${i % 5}:val${String(i % 97).padStart(6, "0")}|`)),
      );
    const few = zstdSequenceCount(compress(records(2_000)));
    const many = zstdSequenceCount(compress(records(20_000)));
    expect(few).toBeGreaterThan(100);
    expect(many).toBeGreaterThan(few * 5);
  });
});
