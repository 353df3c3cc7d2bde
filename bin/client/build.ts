/**
 * Builds the client package in functions/client/dist: `npm run build:client`. esbuild bundles
 * index.ts once as ES module (index.mjs) and once as CommonJS (index.cjs); tsc writes the declarations,
 * which are copied as .d.mts and .d.cts with their relative imports renamed to match, so TypeScript
 * reads each flavour as the module format it describes.
 */
import { execFile } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";

export const CLIENT_DIR = fileURLToPath(new URL("../../functions/client/", import.meta.url));
export const CLIENT_DIST = join(CLIENT_DIR, "dist");

/** TypeScript's compiler, run with node: it writes the declarations. */
export const TSC = join(
  dirname(createRequire(import.meta.url).resolve("typescript/package.json")),
  "bin/tsc",
);

const FORMATS = [
  { format: "esm", js: "mjs", dts: "d.mts" },
  { format: "cjs", js: "cjs", dts: "d.cts" },
] as const;

export async function buildClient(): Promise<void> {
  await rm(CLIENT_DIST, { recursive: true, force: true });
  for (const { format, js } of FORMATS) {
    await build({
      entryPoints: [join(CLIENT_DIR, "index.ts")],
      outfile: join(CLIENT_DIST, `index.${js}`),
      bundle: true,
      format,
      platform: "node",
      target: "node20",
      logLevel: "warning",
    });
  }
  const typesDir = join(CLIENT_DIST, "types");
  await promisify(execFile)(process.execPath, [TSC, "-p", join(CLIENT_DIR, "tsconfig.json")]);
  for (const file of await readdir(typesDir)) {
    if (!file.endsWith(".d.ts")) continue;
    const text = await readFile(join(typesDir, file), "utf8");
    for (const { js, dts } of FORMATS) {
      const renamed = text.replace(/(["'])(\.\.?\/[^"']+)\.js\1/g, `$1$2.${js}$1`);
      await writeFile(join(CLIENT_DIST, file.replace(/\.d\.ts$/, `.${dts}`)), renamed);
    }
  }
  await rm(typesDir, { recursive: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildClient();
  process.stdout.write(`built ${CLIENT_DIST}\n`);
}
