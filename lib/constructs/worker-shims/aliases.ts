/**
 * What the render worker's bundle replaces (esbuild's alias): set on the worker's function in
 * lib/constructs/render-worker.ts, and by `kiln bench --cold`, which bundles the worker as the CDK does.
 * Paths are relative to the repository root, the directory the CDK runs esbuild in.
 */
const shim = (file: string) => `./lib/constructs/worker-shims/${file}`;

export const RENDER_WORKER_ALIASES: Readonly<Record<string, string>> = {
  // node:http loaded as require() loads it: see node-http.cts.
  "node:http": shim("node-http.cts"),
  http: shim("node-http.cts"),
  // Code the worker never runs, ~320 KB the cold start would otherwise compile: puppeteer's browser
  // downloads (@puppeteer/browsers' CLI and archive extraction) and WebDriver BiDi.
  yargs: shim("yargs.ts"),
  "yargs/helpers": shim("yargs.ts"),
  "modern-tar/fs": shim("modern-tar.ts"),
  "chromium-bidi": shim("chromium-bidi.ts"),
};
