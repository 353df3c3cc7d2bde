/**
 * Stands in for modern-tar/fs in the render worker's bundle. Only @puppeteer/browsers' install loads
 * it, on demand, to unpack a downloaded browser; the worker runs the Chromium of its layer and never
 * installs one.
 */
export function unpackTar(): never {
  throw new Error("Kiln's render worker is bundled without modern-tar: it never installs a browser");
}
