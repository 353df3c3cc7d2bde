/**
 * Writes the job files (bodies of POST /v1/renders) from template.html and data.json, so the
 * template stays readable as HTML while the jobs stay self-contained:
 *   npx tsx examples/invoice/build-jobs.ts
 * job.png.json and job.pdf.json are the benchmark's jobs; job.json is the example: a longer invoice
 * (four deliveries of every item) as an A4 PDF over two pages, with a header and "Page n of m" footer.
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

interface Item {
  description: string;
  sku: string;
  quantity: number;
  unitPrice: string;
  amount: string;
}
const cents = (money: string) => Math.round(Number(money.replace(/,/g, "")) * 100);
const money = (c: number) =>
  (c / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const items = [1, 2, 3, 4].flatMap((delivery) =>
  (data.items as Item[]).map((item) => ({
    ...item,
    description: `${item.description} (delivery ${delivery})`,
  })),
);
const subtotal = items.reduce((sum, item) => sum + cents(item.amount), 0);
const vat = Math.round(subtotal * 0.21);
const long = {
  ...data,
  items,
  totals: { subtotal: money(subtotal), vatRate: "21%", vat: money(vat), total: money(subtotal + vat) },
};
// Drawn in the page margins the template's @page rule leaves (16 mm top and bottom); inline styles only.
const margin =
  "font-family: 'Open Sans', sans-serif; font-size: 8px; color: #7b8794; width: 100%; padding: 0 14mm;";
const paged = {
  template: { html },
  data: long,
  output: {
    format: "pdf",
    width: 794,
    height: 1123,
    pdf: {
      pageSize: "A4",
      margin: { top: "16mm", bottom: "16mm", left: "14mm", right: "14mm" },
      headerTemplate: `<div style="${margin} text-align: right;">{{ seller.name }} · Invoice {{ invoice.number }}</div>`,
      footerTemplate: `<div style="${margin} display: flex; justify-content: space-between;"><span>{{ customer.name }} · due {{ invoice.due }}</span><span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>`,
    },
  },
};
writeFileSync(join(here, "job.json"), `${JSON.stringify(paged, null, 2)}\n`);
