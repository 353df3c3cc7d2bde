import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RENDERER } from "../../functions/core/renderer-identity.js";
import { fontPackHash } from "../../layers/chromium/font-pack.js";

const packageJson = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
};

/**
 * RENDERER is part of every render-cache key: when Kiln, Chromium or the font pack changes without it,
 * outputs of the old renderer would be served for the new one. Each failure says what to write there.
 */
describe("RENDERER (functions/core/renderer-identity.ts)", () => {
  it("names Kiln's version from package.json", () => {
    expect(RENDERER.kiln, "set RENDERER.kiln to package.json's version").toBe(packageJson.version);
  });

  it("names the font pack the layer and the local stack build", () => {
    expect(RENDERER.fontPack, "set RENDERER.fontPack to fontPackHash()").toBe(fontPackHash());
  });

  it("names a build of the Chromium major that @sparticuz/chromium pins", () => {
    const pinned = packageJson.dependencies["@sparticuz/chromium"];
    expect(RENDERER.chromium.split(".")[0], "set RENDERER.chromium to the launched browser's version").toBe(
      pinned?.split(".")[0],
    );
  });
});
