/**
 * Lambda entry of the render worker. Extracting Chromium is most of a cold start, so it begins before
 * anything else loads; the worker itself is a bundle file of its own (the definition's `chunks`),
 * compiled and initialised while the extraction runs.
 */
import "../../adapters/chromium/start-extraction.js";

export const { handler } = await import("./main.chunk.mjs");
