/** `1-3, 5, 8-` as Chromium's print dialog accepts them: `output.pdf.pageRanges` and stamp pages. */
export const PAGE_RANGES = /^\s*\d+\s*(?:-\s*\d*\s*)?(?:,\s*\d+\s*(?:-\s*\d*\s*)?)*$/;

/** 1-based and inclusive; `to` undefined runs to the last page. */
export interface PageRange {
  readonly from: number;
  readonly to?: number;
}

/** `"1-3, 5, 8-"` → ranges. */
export function parsePageRanges(ranges: string): PageRange[] {
  return ranges.split(",").map((part) => {
    const [from = "", to] = part.split("-").map((s) => s.trim());
    if (to === undefined) return { from: Number(from), to: Number(from) };
    return to === "" ? { from: Number(from) } : { from: Number(from), to: Number(to) };
  });
}

/** Whether 1-based `page` is in `ranges` (no ranges: every page). */
export function inPageRanges(page: number, ranges: readonly PageRange[] | undefined): boolean {
  return ranges === undefined || ranges.some((r) => page >= r.from && (r.to === undefined || page <= r.to));
}
