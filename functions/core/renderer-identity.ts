/**
 * What renders a document besides its inputs: Kiln's version, the Chromium build and the font pack.
 * Both the api (which looks the render cache up) and the worker (which fills it) read this one
 * constant, so a job and the output it reuses were produced by the same renderer. It is written out
 * rather than read at run time because neither bundle holds package.json or the font pack's sources;
 * test/unit/renderer-identity.test.ts fails when a pin or the font pack changes without it, and
 * test/integration/chromium-renderer.test.ts when the Chromium the worker launches is another build.
 */
export interface RendererIdentity {
  /** Kiln's version (package.json). */
  readonly kiln: string;
  /** The Chromium build the worker launches (@sparticuz/chromium's, as `browser.version()` names it). */
  readonly chromium: string;
  /** The font pack's hash (layers/chromium/font-pack.ts `fontPackHash`): sources and pinned versions. */
  readonly fontPack: string;
}

export const RENDERER: RendererIdentity = {
  kiln: "0.1.0",
  chromium: "153.0.8010.0",
  fontPack: "bc4c13cbe3086a00355bdb489fe86f6a8e99feb139f375c120662d88709e9407",
};
