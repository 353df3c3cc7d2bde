import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Every error code the API answers with or a job fails with, found in the source: codes given to
 * Kiln's error classes (`super(kind, code, …)`, `new PermanentRenderError(code, …)`), codes of JSON
 * error answers (`code: "…"`) and the code constants and tables the worker fails jobs with.
 */
const ROOT = join(import.meta.dirname, "../..");
const PATTERNS = [
  /super\(\s*"[a-z_]+",\s*"([a-z_]+)"/g,
  /new KilnError\(\s*"[a-z_]+",\s*"([a-z_]+)"/g,
  /new PermanentRenderError\(\s*"([a-z_]+)"/g,
  /\bcode: "([a-z_]+)"/g,
  /export const [A-Z_]+ = "([a-z]+_[a-z_]+)";/g,
];
/** Code tables: every value is a code. */
const TABLES = /export const (?:FAILURE_CODES|READINESS_CODES) = \{([\s\S]*?)\} as const/g;

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !f.includes("/memory/"));
}

async function codesInSource(): Promise<Set<string>> {
  const codes = new Set<string>();
  for (const file of await sourceFiles(join(ROOT, "functions"))) {
    const text = await readFile(file, "utf8");
    for (const pattern of PATTERNS) for (const m of text.matchAll(pattern)) codes.add(m[1] as string);
    for (const table of text.matchAll(TABLES)) {
      for (const m of (table[1] as string).matchAll(/^\s*\w+:\s*"([a-z_]+)",?$/gm)) codes.add(m[1] as string);
    }
  }
  // zod's code for a refinement's issue; the local stack's own header check; the signer's refusal of a
  // caller, which neither the API nor a job ever shows.
  for (const notShown of ["custom", "headers_too_large", "unknown_signer_caller"]) codes.delete(notShown);
  return codes;
}

describe("failure codes in the docs", () => {
  it("finds the codes it should (the scan is live)", async () => {
    const codes = await codesInSource();
    for (const known of ["invalid_request", "egress_blocked", "wait_timeout", "stuck", "render_timeout"])
      expect(codes).toContain(known);
  });

  it.each(["README.md", "docs/operations.md"])("%s lists every code", async (doc) => {
    const text = await readFile(join(ROOT, doc), "utf8");
    const missing = [...(await codesInSource())].filter((code) => !text.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});
