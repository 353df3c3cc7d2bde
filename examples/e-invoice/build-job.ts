/**
 * Writes job.json (the body of POST /v1/renders) from the invoice example's template and data and the
 * Factur-X XML next to this file, so that the template is not copied:
 *   npx tsx examples/e-invoice/build-job.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const invoice = join(here, "..", "invoice");
const html = readFileSync(join(invoice, "template.html"), "utf8");
const data = JSON.parse(readFileSync(join(invoice, "data.json"), "utf8")) as Record<string, unknown>;
const xml = readFileSync(join(here, "factur-x.xml"), "utf8");

const job = {
  template: { html },
  data,
  output: {
    format: "pdf",
    width: 794,
    height: 1123,
    pdf: {
      standard: "PDF/A-3b",
      facturX: { attachment: "factur-x.xml", profile: "MINIMUM" },
      metadata: {
        title: "Invoice KLN-2026-0042",
        author: "Kiln Supply Co.",
        subject: "Invoice KLN-2026-0042 to Ada Lovelace",
        keywords: ["invoice", "Factur-X"],
        language: "en",
      },
      attachments: [
        {
          name: "factur-x.xml",
          content: xml,
          mimeType: "text/xml",
          description: "Factur-X invoice data (MINIMUM profile)",
          relationship: "Alternative",
        },
      ],
    },
  },
  clock: "2026-11-02T09:00:00Z",
};
writeFileSync(join(here, "job.json"), `${JSON.stringify(job, null, 2)}\n`);
