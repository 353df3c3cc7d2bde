#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// The `kiln` command: runs the TypeScript CLI through tsx, so no build step is needed.
// (The warning flag silences node:sqlite's notice; the SQS/S3 stand-in persists through it.)
import { register } from "tsx/esm/api";

register();
await import("./kiln.ts");
