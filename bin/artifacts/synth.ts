import { buildKilnApp } from "../../lib/app.js";
import { readSynthesizedStack, type SynthesizedStack } from "./cloud-assembly.js";

/**
 * Synthesizes the Kiln app into `outdir` as `cdk synth` does (cdk.json's context, the local esbuild
 * bundling, the Chromium layer) with construct paths in the template, and reads the stack back.
 */
export function synthesizeKiln(outdir: string, context: Record<string, unknown> = {}): SynthesizedStack {
  const { app, stack } = buildKilnApp({
    outdir,
    context: { "aws:cdk:enable-path-metadata": true, "aws:cdk:enable-asset-metadata": true, ...context },
  });
  const assembly = app.synth();
  return readSynthesizedStack(assembly.directory, stack.stackName);
}
