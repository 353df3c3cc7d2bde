import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  extractChromiumBinary,
  LAMBDA_CHROMIUM_PACK_DIR,
  PACK_MANIFEST_FILE,
} from "../../../layers/chromium/chromium-pack.js";
import { markOnce, STARTUP_MARKS } from "./startup-marks.js";

/** Names a Chromium pack directory to use instead of the layer's: `kiln bench --cold` sets it. */
export const CHROMIUM_PACK_OVERRIDE_ENV = "KILN_CHROMIUM_PACK_DIR";

/**
 * The extraction under way, per process rather than per module: the render worker's Lambda entry
 * starts it from its own bundle file, and the worker's browser pool, in another file with its own copy
 * of this module, joins it.
 */
const EXTRACTION = Symbol.for("kiln.chromiumExtraction");
const shared = globalThis as { [EXTRACTION]?: Promise<string> };

/**
 * Path of the Chromium binary. The first call extracts it (~200 MB) to the temp dir, which dominates
 * a cold start; later calls, and later processes sharing that dir, find it there. Started at most once
 * per process, so the worker entry can begin it at module load and the first launch joins it. A failed
 * extraction is forgotten so that the next call tries again.
 *
 * On Lambda the binary comes from the layer's Chromium pack (layers/chromium/chromium-pack.ts: zstd
 * frames decoded in parallel, ~5× faster than the package's brotli); elsewhere from the package itself.
 */
export function chromiumExecutable(): Promise<string> {
  let extraction = shared[EXTRACTION];
  if (!extraction) {
    markOnce(STARTUP_MARKS.extractStart);
    const pack = chromiumPackDir();
    extraction = (pack ? fromPack(pack) : fromPackage()).then(
      (path) => {
        markOnce(STARTUP_MARKS.extractEnd);
        return path;
      },
      (error: unknown) => {
        delete shared[EXTRACTION];
        throw error;
      },
    );
    shared[EXTRACTION] = extraction;
  }
  return extraction;
}

function chromiumPackDir(): string | undefined {
  const override = process.env[CHROMIUM_PACK_OVERRIDE_ENV];
  if (override) return override;
  if (process.env.AWS_LAMBDA_FUNCTION_NAME === undefined) return undefined;
  return existsSync(join(LAMBDA_CHROMIUM_PACK_DIR, PACK_MANIFEST_FILE))
    ? LAMBDA_CHROMIUM_PACK_DIR
    : undefined;
}

/**
 * The package's own extraction, outside Lambda. Imported here rather than at the top: on Lambda the
 * worker's entry starts the extraction before anything else loads, and the package (~60 ms to import)
 * is not needed for it there.
 */
async function fromPackage(): Promise<string> {
  const { default: chromium } = await import("@sparticuz/chromium");
  return chromium.executablePath();
}

async function fromPack(pack: string): Promise<string> {
  // Amazon Linux 2023 lacks NSS and expat; the pack ships them unpacked, so they load from the layer.
  // Only there, as the package does it: elsewhere the system's own match the system's libc.
  if (process.env.AWS_EXECUTION_ENV?.startsWith("AWS_Lambda_nodejs")) {
    const lib = join(pack, "al2023", "lib");
    const current = process.env.LD_LIBRARY_PATH?.split(":").filter((p) => p && p !== lib) ?? [];
    process.env.LD_LIBRARY_PATH = [lib, ...current].join(":");
  }
  // The same path the package uses, so either finds a binary the other extracted.
  const target = join(tmpdir(), "chromium");
  if (existsSync(target)) return target;
  return extractChromiumBinary(pack, target);
}
