import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_NODE_MODULES,
  FONT_SOURCES,
  fontConfigXml,
  woffToSfnt,
} from "../../layers/chromium/font-pack.js";

describe("font pack", () => {
  it("turns a WOFF 1.0 font into a TrueType file with a valid table directory", () => {
    const woff = readFileSync(
      join(DEFAULT_NODE_MODULES, "@fontsource/noto-color-emoji/files/noto-color-emoji-10-400-normal.woff"),
    );
    const ttf = woffToSfnt(woff);
    const numTables = ttf.readUInt16BE(4);
    expect(numTables).toBe(woff.readUInt16BE(12));
    expect(ttf.readUInt32BE(0)).toBe(woff.readUInt32BE(4));
    const tags: string[] = [];
    for (let i = 0; i < numTables; i++) {
      const record = 12 + i * 16;
      tags.push(ttf.toString("latin1", record, record + 4));
      const offset = ttf.readUInt32BE(record + 8);
      expect(offset % 4).toBe(0);
      expect(offset + ttf.readUInt32BE(record + 12)).toBeLessThanOrEqual(ttf.byteLength);
    }
    expect(tags).toEqual([...tags].sort());
    expect(tags).toEqual(expect.arrayContaining(["cmap", "glyf", "head"]));
    expect(() => woffToSfnt(Buffer.from("not a font at all, not at all, no, not really, no"))).toThrow(
      /wOFF signature/,
    );
  });

  it("pins every source exactly in package.json", () => {
    const pkg = JSON.parse(readFileSync(join(DEFAULT_NODE_MODULES, "..", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    for (const source of FONT_SOURCES)
      expect(pkg.dependencies[source.package], source.package).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("writes one fontconfig file for both places: the pack's and Chromium's font dirs, and generic families", () => {
    const xml = fontConfigXml({ fontDirs: ["/opt/fonts", "/tmp/fonts"], cacheDir: "/tmp/cache" });
    expect(xml).toContain("<dir>/opt/fonts</dir>\n  <dir>/tmp/fonts</dir>");
    expect(xml).toContain("<cachedir>/tmp/cache</cachedir>");
    expect(xml).toMatch(/<family>sans-serif<\/family>\s*<prefer>\s*<family>Open Sans<\/family>/);
    expect(xml).toContain("<family>Noto Color Emoji</family>");
  });
});
