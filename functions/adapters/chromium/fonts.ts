import { existsSync } from "node:fs";
import {
  ensureLocalFontPack,
  LAMBDA_FONT_CONFIG,
  LAMBDA_FONT_DIR,
} from "../../../layers/chromium/font-pack.js";

/** Names a fontconfig file to use instead: `kiln bench --cold` points it at a layer-like copy of the pack. */
export const FONT_CONFIG_OVERRIDE_ENV = "KILN_FONT_CONFIG_FILE";

/**
 * The fontconfig file Chromium must start with, so that a document gets the same faces everywhere:
 * on Lambda the one the layer ships at /opt/fonts; elsewhere the same pack built on this machine
 * (once per content hash, in the temp dir). Undefined on Lambda when the layer has no pack, leaving
 * @sparticuz/chromium's own configuration (Open Sans only).
 */
export function fontConfigFile(): string | undefined {
  const override = process.env[FONT_CONFIG_OVERRIDE_ENV];
  if (override) return override;
  if (process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined) {
    return existsSync(LAMBDA_FONT_CONFIG) ? LAMBDA_FONT_CONFIG : undefined;
  }
  return ensureLocalFontPack().configFile;
}

/** The font pack's files: the layer's /opt/fonts on Lambda, else the pack built on this machine. */
export function fontPackDir(): string {
  return process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined ? LAMBDA_FONT_DIR : ensureLocalFontPack().dir;
}
