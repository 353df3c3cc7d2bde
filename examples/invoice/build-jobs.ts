/**
 * Writes the two job files (bodies of POST /v1/renders) from template.html and data.json, so the
 * template stays readable as HTML while the jobs stay self-contained:
 *   npx tsx examples/invoice/build-jobs.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const html = readFileSync(join(here, "template.html"), "utf8");
const data = JSON.parse(readFileSync(join(here, "data.json"), "utf8")) as Record<string, unknown>;

const jobs = {
  "job.png.json": { format: "png", width: 1200, height: 800 },
  // The template's `@page { size: A4 }` sets the paper; the viewport only matters for media queries.
  "job.pdf.json": { format: "pdf", width: 794, height: 1123 },
};
for (const [file, output] of Object.entries(jobs)) {
  writeFileSync(join(here, file), `${JSON.stringify({ template: { html }, data, output }, null, 2)}\n`);
}
