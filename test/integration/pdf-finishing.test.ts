/**
 * PDF finishing through the local stack with real Chromium: metadata, a text and an image stamp, an
 * attachment from the tenant's assets, a user password; the password gone from the stored request
 * once the job has ended and never in the API's answers; equal bytes for an equal unencrypted job; a
 * combination that cannot conform refused naming both fields.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PDFDocument, PDFName, PDFRawStream } from "@cantoo/pdf-lib";
import { getDocument, OPS } from "pdfjs-dist/legacy/build/pdf.mjs";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadJobDirectory } from "../../bin/commands/job-directory.js";
import { DynamoDbJobStore } from "../../functions/adapters/aws/dynamodb-job-store.js";
import { KilnApiError, type RenderSubmissionInput } from "../../functions/client/kiln-client.js";
import { REDACTED_PASSWORD } from "../../functions/core/pdf-finishing.js";
import { localClientConfig } from "../../functions/local/aws-clients.js";
import { REPO_ROOT } from "../../lib/handler-entries.js";
import { startTestStack, TENANT_A, type TestStack } from "./helpers/local-stack.js";
import { readPdf } from "./helpers/pdf-text.js";

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ workerConcurrency: 1, renderConcurrency: 1 });
  const logo = new PNG({ width: 8, height: 8 });
  logo.data.fill(200);
  await t.clientA.putAsset("finishing/logo.png", PNG.sync.write(logo), "image/png");
  await t.clientA.putAsset("finishing/figures.csv", Buffer.from("year,total\n2026,42\n"), "text/csv");
});

afterAll(async () => {
  await t?.stop();
});

const THREE_PAGES =
  '<html><head><title>Policy</title></head><body style="font-family: sans-serif">' +
  [1, 2, 3].map((n) => `<h1 style="break-after: page">Section ${n}</h1>`).join("") +
  "</body></html>";

async function rendered(
  job: RenderSubmissionInput,
): Promise<{ id: string; bytes: Uint8Array; view: string }> {
  const submitted = await t.clientA.submitRender(job);
  const done = await t.clientA.waitFor(submitted.id, { timeoutMs: 60_000 });
  if (done.status !== "succeeded") throw new Error(`job failed: ${done.error?.code}: ${done.error?.message}`);
  return { id: done.id, bytes: await t.clientA.download(done), view: JSON.stringify(done) };
}

describe("PDF finishing on the local stack", () => {
  it("applies metadata, stamps, an attachment and a password, and forgets the password", async () => {
    const { id, bytes, view } = await rendered({
      template: { html: THREE_PAGES },
      output: {
        format: "pdf",
        pdf: {
          pageSize: "A4",
          metadata: { title: "Specimen policy", author: "Kiln Insurance", language: "en-GB" },
          stamps: [
            { text: "SPECIMEN", rotation: 0 },
            { image: "finishing/logo.png", position: "top-right", width: 24, opacity: 1 },
          ],
          attachments: [{ name: "figures.csv", asset: "finishing/figures.csv", mimeType: "text/csv" }],
          protection: { userPassword: "specimen" },
        },
      },
      clock: "2026-11-20T09:00:00Z",
    });
    // The job as the API shows it never holds the password.
    expect(view).not.toContain("specimen");

    const task = getDocument({ data: new Uint8Array(bytes), password: "specimen", verbosity: 0 });
    try {
      const doc = await task.promise;
      expect(doc.numPages).toBe(3);
      const { info } = await doc.getMetadata();
      expect(info).toMatchObject({ Title: "Specimen policy", Author: "Kiln Insurance", Language: "en-GB" });
      expect([...((await doc.getAttachments())?.keys() ?? [])]).toEqual(["figures.csv"]);
      for (let n = 1; n <= 3; n++) {
        const page = await doc.getPage(n);
        const text = (await page.getTextContent()).items.map((i) => ("str" in i ? i.str : "")).join("");
        expect(text).toContain(`Section ${n}`);
        expect(text).toContain("SPECIMEN");
        // The template has no image: the one painted is the stamp.
        expect((await page.getOperatorList()).fnArray).toContain(OPS.paintImageXObject);
      }
    } finally {
      await task.destroy();
    }

    const jobs = new DynamoDbJobStore(
      new DynamoDBClient(localClientConfig(t.stack.endpoints.dynamodb)),
      t.stack.names.jobsTable,
    );
    const stored = await jobs.getRequest(TENANT_A.tenant, id);
    expect(stored?.output.pdf?.protection?.userPassword).toBe(REDACTED_PASSWORD);
    expect(stored?.output.pdf?.metadata?.title).toBe("Specimen policy");
  });

  it("takes a stored template version's metadata under the job's own", async () => {
    const version = await t.clientA.createTemplate({
      id: "finishing-letter",
      html: "<p>Letter</p>",
      pdfMetadata: { author: "Kiln Mutual", subject: "Letters", language: "en-GB" },
    });
    const { bytes } = await rendered({
      template: { id: "finishing-letter", version: version.version },
      output: { format: "pdf", pdf: { metadata: { title: "Letter 7", subject: "Reminder" } } },
    });
    const task = getDocument({ data: new Uint8Array(bytes), verbosity: 0 });
    try {
      const { info } = await (await task.promise).getMetadata();
      expect(info).toMatchObject({
        Title: "Letter 7",
        Author: "Kiln Mutual",
        Subject: "Reminder",
        Language: "en-GB",
      });
    } finally {
      await task.destroy();
    }
  });

  it("gives the same bytes for the same unencrypted job", async () => {
    const job: RenderSubmissionInput = {
      template: { html: THREE_PAGES },
      output: {
        format: "pdf",
        pdf: {
          metadata: { title: "Twice" },
          stamps: [{ text: "COPY", pages: "2" }],
          attachments: [{ name: "a.txt", content: "a", mimeType: "text/plain" }],
        },
      },
      clock: "2026-11-20T09:00:00Z",
    };
    const first = await rendered(job);
    const second = await rendered(job);
    expect(Buffer.from(first.bytes).equals(Buffer.from(second.bytes))).toBe(true);
    const { text } = await readPdf(first.bytes);
    expect(text.map((page) => page.includes("COPY"))).toEqual([false, true, false]);
  });

  it("refuses PDF/A with a password at submission, naming both fields", async () => {
    const refused = await t.clientA
      .submitRender({
        template: { html: "<p>x</p>" },
        output: { format: "pdf", pdf: { standard: "PDF/A-2b", protection: { userPassword: "p" } } },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(refused).toBeInstanceOf(KilnApiError);
    const error = (refused as KilnApiError).body as { error: { fields: Array<{ field: string }> } };
    expect((refused as KilnApiError).status).toBe(400);
    expect(error.error.fields.map((f) => f.field).sort()).toEqual([
      "output.pdf.protection",
      "output.pdf.standard",
    ]);
  });

  it("renders examples/policy: cover, schedule and stored terms merged, stamped, with the CSV, locked", async () => {
    const dir = join(REPO_ROOT, "examples", "policy");
    await uploadJobDirectory(t.clientA, dir);
    const { bytes } = await rendered(JSON.parse(await readFile(join(dir, "job.json"), "utf8")));
    const task = getDocument({ data: new Uint8Array(bytes), password: "specimen", verbosity: 0 });
    try {
      const doc = await task.promise;
      expect(doc.numPages).toBe(6);
      const sizes: number[][] = [];
      for (let n = 1; n <= 6; n++) {
        const page = await doc.getPage(n);
        sizes.push(page.view.slice(2).map(Math.round));
        const text = (await page.getTextContent()).items.map((i) => ("str" in i ? i.str : "")).join("");
        expect(text).toContain("SPECIMEN");
      }
      // The landscape cover, the three-page schedule and the two-page terms, all A4.
      expect(sizes).toEqual([[842, 596], ...Array.from({ length: 5 }, () => [596, 842])]);
      const outline = (await doc.getOutline()) ?? [];
      expect(outline.map((item) => item.title)).toEqual(["Cover", "Policy schedule", "Terms and conditions"]);
      expect([...((await doc.getAttachments())?.keys() ?? [])]).toEqual(["premiums.csv"]);
      expect((await doc.getMetadata()).info).toMatchObject({ Title: "Home Insurance policy HM-2026-004217" });
    } finally {
      await task.destroy();
    }
  });

  it("renders examples/e-invoice as PDF/A-3b with its Factur-X XML", async () => {
    const job = JSON.parse(await readFile(join(REPO_ROOT, "examples", "e-invoice", "job.json"), "utf8"));
    const { bytes } = await rendered(job);
    const task = getDocument({ data: new Uint8Array(bytes), verbosity: 0 });
    try {
      const { metadata } = await (await task.promise).getMetadata();
      expect(metadata?.get("pdfaid:part")).toBe("3");
      expect(metadata?.get("pdfaid:conformance")).toBe("B");
    } finally {
      await task.destroy();
    }
    const doc = await PDFDocument.load(bytes);
    expect(doc.catalog.has(PDFName.of("OutputIntents"))).toBe(true);
    const [xml] = doc.getAttachments();
    expect(xml).toMatchObject({ name: "factur-x.xml", mimeType: "text/xml", afRelationship: "Alternative" });
    expect(Buffer.from(xml?.data ?? []).toString()).toContain("<ram:ID>KLN-2026-0042</ram:ID>");
    // The Factur-X XMP properties and their PDF/A extension schema.
    const metadataStream = doc.catalog.lookup(PDFName.of("Metadata"));
    expect(metadataStream).toBeInstanceOf(PDFRawStream);
    const xmp = new TextDecoder().decode((metadataStream as PDFRawStream).getContents());
    expect(xmp).toContain("<fx:ConformanceLevel>MINIMUM</fx:ConformanceLevel>");
    expect(xmp).toContain("<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>");
    expect(xmp).toContain("pdfaExtension:schemas");
  });
});
