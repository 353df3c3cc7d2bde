import chromium from "@sparticuz/chromium";
import { markOnce, STARTUP_MARKS } from "./startup-marks.js";

let extraction: Promise<string> | undefined;

/**
 * Path of the Chromium binary. The first call extracts it (brotli, ~200 MB) to the temp dir, which
 * dominates a cold start; later calls, and later processes sharing that dir, find it there. Started
 * at most once per process, so the worker entry can begin it at module load and the first launch
 * joins it. A failed extraction is forgotten so that the next call tries again.
 */
export function chromiumExecutable(): Promise<string> {
  if (!extraction) {
    markOnce(STARTUP_MARKS.extractStart);
    extraction = chromium.executablePath().then(
      (path) => {
        markOnce(STARTUP_MARKS.extractEnd);
        return path;
      },
      (error: unknown) => {
        extraction = undefined;
        throw error;
      },
    );
  }
  return extraction;
}
