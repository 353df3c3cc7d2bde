/**
 * Performance marks (node:perf_hooks, timed from process start) that the Chromium adapter leaves the
 * first time each step happens, so a cold start can be taken apart afterwards (`kiln bench --cold`).
 */
export const STARTUP_MARKS = {
  extractStart: "kiln:chromium-extract:start",
  extractEnd: "kiln:chromium-extract:end",
  launchStart: "kiln:browser-launch:start",
  launchEnd: "kiln:browser-launch:end",
  firstPage: "kiln:first-page",
  firstRenderStart: "kiln:first-render:start",
  firstRenderEnd: "kiln:first-render:end",
} as const;

const marked = new Set<string>();

/**
 * Marks `name` once per process: a warm worker must not grow a list of marks forever. The set keeps
 * the per-render calls cheap; the timeline is asked once per name, because the worker's bundle files
 * each have their own copy of this module.
 */
export function markOnce(name: string): void {
  if (marked.has(name)) return;
  marked.add(name);
  if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
}
