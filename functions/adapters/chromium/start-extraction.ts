/**
 * Imported first by the render worker's entry, for its side effect: starts extracting Chromium, the
 * bulk of a cold start, while the rest of the entry's modules load rather than at the first render.
 */
import { chromiumExecutable } from "./executable.js";

// Not awaited: the first launch joins this extraction, retries it if it failed, and reports.
chromiumExecutable().catch(() => undefined);
