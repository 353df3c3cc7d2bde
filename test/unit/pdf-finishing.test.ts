import { describe, expect, it } from "vitest";
import {
  EchoRenderer,
  FixedClock,
  MemoryJobStore,
  MemoryObjectStore,
  MemoryPayloadStore,
  MemoryWebhookQueue,
} from "../../functions/adapters/memory/memory-ports.js";
import { MemoryTemplateStore } from "../../functions/adapters/memory/template-asset-fakes.js";
import { ValidationError } from "../../functions/core/errors.js";
import type { Job } from "../../functions/core/job.js";
import { inPageRanges, parsePageRanges } from "../../functions/core/page-ranges.js";
import {
  type AssetReader,
  checkPartTemplates,
  FIXED_PDF_DATE,
  type FinishingPlan,
  holdsPasswords,
  PDF_FINISHING_LIMITS,
  type PdfFinisher,
  planFinishing,
  REDACTED_PASSWORD,
  redactPasswords,
} from "../../functions/core/pdf-finishing.js";
import { renderJob } from "../../functions/core/render-job.js";
import {
  parseOrThrow,
  type RenderRequest,
  RenderSubmissionSchema,
} from "../../functions/core/render-request.js";

const submission = (pdf: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  template: { html: "<p>x</p>" },
  output: { format: "pdf", pdf },
  ...extra,
});

function fieldsOf(body: unknown): { field: string; message: string }[] {
  try {
    parseOrThrow(RenderSubmissionSchema, body);
  } catch (error) {
    if (error instanceof ValidationError) return [...error.issues];
    throw error;
  }
  return [];
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const assets = (files: Record<string, Uint8Array>): AssetReader => ({
  read: async (key) => files[key],
});

describe("output.pdf finishing: validation", () => {
  it("accepts every option together with the defaults filled in", () => {
    const request = parseOrThrow(
      RenderSubmissionSchema,
      submission({
        metadata: { title: "T", author: "A", keywords: ["k"], language: "en-GB" },
        stamps: [{ text: "SPECIMEN" }],
        attachments: [{ name: "a.csv", content: "a,b\n", mimeType: "text/csv" }],
        protection: { userPassword: "secret" },
      }),
    );
    expect(request.output.pdf?.stamps?.[0]).toMatchObject({
      layer: "over",
      position: "center",
      opacity: 0.25,
    });
    expect(request.output.pdf?.attachments?.[0]).toMatchObject({
      encoding: "utf8",
      relationship: "Unspecified",
    });
    expect(request.output.pdf?.protection?.permissions).toEqual({
      print: true,
      copy: false,
      modify: false,
      annotate: false,
    });
  });

  it("refuses PDF/A with a password, naming both fields", () => {
    const issues = fieldsOf(submission({ standard: "PDF/A-3b", protection: { userPassword: "p" } }));
    expect(issues.map((i) => i.field).sort()).toEqual(["output.pdf.protection", "output.pdf.standard"]);
    for (const issue of issues)
      expect(issue.message).toMatch(/PDF\/A-3b forbids encryption.*\(with (standard|protection)\)/);
  });

  it("refuses attachments in PDF/A-2b, naming both fields, and allows them in PDF/A-3b", () => {
    const attachments = [{ name: "x.xml", content: "<x/>", mimeType: "text/xml" }];
    const issues = fieldsOf(submission({ standard: "PDF/A-2b", attachments }));
    expect(issues.map((i) => i.field).sort()).toEqual(["output.pdf.attachments", "output.pdf.standard"]);
    expect(fieldsOf(submission({ standard: "PDF/A-3b", attachments }))).toEqual([]);
  });

  it("marks a Factur-X invoice only as PDF/A-3b with the attachment it names", () => {
    const xml = { name: "factur-x.xml", content: "<x/>", mimeType: "text/xml", relationship: "Alternative" };
    const facturX = { profile: "EN 16931" };
    expect(fieldsOf(submission({ standard: "PDF/A-3b", attachments: [xml], facturX }))).toEqual([]);
    expect(
      fieldsOf(submission({ attachments: [xml], facturX }))
        .map((i) => i.field)
        .sort(),
    ).toEqual(["output.pdf.facturX", "output.pdf.standard"]);
    expect(
      fieldsOf(
        submission({
          standard: "PDF/A-3b",
          attachments: [xml],
          facturX: { ...facturX, attachment: "x.xml" },
        }),
      ),
    ).toEqual([
      {
        field: "output.pdf.facturX.attachment",
        message: 'names no attachment: add one named "x.xml" with the invoice XML to attachments',
      },
    ]);
  });

  it("names the field of a bad stamp, attachment or metadata value", () => {
    expect(fieldsOf(submission({ stamps: [{ text: "a", image: "b.png" }] }))).toEqual([
      { field: "output.pdf.stamps.0", message: "give exactly one of text and image" },
    ]);
    expect(fieldsOf(submission({ stamps: [{ text: "a", pages: "one" }] }))[0]?.field).toBe(
      "output.pdf.stamps.0.pages",
    );
    expect(fieldsOf(submission({ metadata: { language: "english please" } }))[0]?.field).toBe(
      "output.pdf.metadata.language",
    );
    expect(fieldsOf(submission({ protection: {} }))).toEqual([
      { field: "output.pdf.protection", message: "give a userPassword, an ownerPassword or both" },
    ]);
    const big = "x".repeat(PDF_FINISHING_LIMITS.inlineAttachmentBytes + 1);
    const [issue] = fieldsOf(
      submission({ attachments: [{ name: "a.txt", content: big, mimeType: "text/plain" }] }),
    );
    expect(issue?.field).toBe("output.pdf.attachments.0.content");
    expect(issue?.message).toContain(String(PDF_FINISHING_LIMITS.inlineAttachmentBytes));
  });

  it("takes parts of a template or a stored PDF, with page options only for templates", () => {
    const request = parseOrThrow(
      RenderSubmissionSchema,
      submission({
        bookmark: "Cover",
        parts: [
          { bookmark: "Schedule", template: { id: "policy", version: 1 }, pdf: { landscape: true } },
          { bookmark: "Terms", asset: "policy/terms.pdf" },
        ],
      }),
    );
    expect(request.output.pdf?.parts?.[0]?.pdf).toMatchObject({ landscape: true, printBackground: true });
    expect(fieldsOf(submission({ parts: [{ bookmark: "x" }] }))).toEqual([
      { field: "output.pdf.parts.0", message: "give exactly one of template and asset" },
    ]);
    expect(fieldsOf(submission({ parts: [{ bookmark: "x", asset: "t.pdf", pdf: {} }] }))).toEqual([
      { field: "output.pdf.parts.0.pdf", message: "applies to a template part only" },
    ]);
    expect(fieldsOf(submission({ parts: [{ bookmark: "x", asset: "t.pdf", stamps: [] }] }))).toEqual([
      { field: "output.pdf.parts.0.stamps", message: "unknown field" },
    ]);
  });

  it("holds the counts to the limits table", () => {
    const stamps = Array.from({ length: PDF_FINISHING_LIMITS.stampsPerJob + 1 }, () => ({ text: "s" }));
    expect(fieldsOf(submission({ stamps }))[0]?.field).toBe("output.pdf.stamps");
    const attachments = Array.from({ length: PDF_FINISHING_LIMITS.attachmentsPerJob + 1 }, (_, i) => ({
      name: `${i}.txt`,
      content: "x",
      mimeType: "text/plain",
    }));
    expect(fieldsOf(submission({ attachments }))[0]?.field).toBe("output.pdf.attachments");
  });
});

describe("checkPartTemplates", () => {
  it("names a part's missing template or bad data by the part's fields", async () => {
    const versions = new MemoryTemplateStore();
    await versions.create("t", {
      id: "schedule",
      version: 1,
      createdAt: "2026-01-01T00:00:00.000Z",
      sha256: "0".repeat(64),
      bytes: 1,
      schema: { type: "object", required: ["total"], properties: { total: { type: "number" } } },
    });
    const issues = async (parts: unknown[]) =>
      checkPartTemplates({ versions }, "t", { parts } as never).then(
        () => [],
        (error: unknown) =>
          error instanceof ValidationError ? error.issues.map((i) => i.field) : [String(error)],
      );
    expect(await issues([{ bookmark: "a", template: { id: "nope", version: 1 } }])).toEqual([
      "output.pdf.parts.0.template.id",
    ]);
    expect(
      await issues([
        { bookmark: "a", asset: "t.pdf" },
        { bookmark: "b", template: { id: "schedule", version: 1 }, data: { total: "x" } },
      ]),
    ).toEqual(["output.pdf.parts.1.data.total"]);
    expect(
      await issues([{ bookmark: "b", template: { id: "schedule", version: 1 }, data: { total: 1 } }]),
    ).toEqual([]);
  });
});

describe("planFinishing", () => {
  const pdf = new TextEncoder().encode("%PDF-1.4 rendered");

  it("is the same plan for the same input, dated by the clock or a fixed instant", async () => {
    const options = { metadata: { title: "T" }, stamps: [] };
    const a = await planFinishing(undefined, "t", options, pdf, undefined);
    const b = await planFinishing(undefined, "t", options, pdf, undefined);
    expect(a.documentId).toEqual(b.documentId);
    expect(a.date).toEqual(FIXED_PDF_DATE);
    expect(a.metadata).toEqual({ producer: "Kiln", title: "T" });
    const other = await planFinishing(undefined, "t", { metadata: { title: "U" } }, pdf, undefined);
    expect(other.documentId).not.toEqual(a.documentId);
    const clocked = await planFinishing(undefined, "t", options, pdf, "2026-11-20T09:00:00.000Z");
    expect(clocked.date.toISOString()).toBe("2026-11-20T09:00:00.000Z");
  });

  it("reads stamp images and attached files from the tenant's assets", async () => {
    const plan = await planFinishing(
      assets({ "assets/t/logo.png": PNG, "assets/t/data.csv": new Uint8Array([97]) }),
      "t",
      {
        stamps: [{ ...stampDefaults, image: "logo.png", pages: "2-3, 5-" }],
        attachments: [
          { name: "d.csv", asset: "data.csv", encoding: "utf8", mimeType: "text/csv", relationship: "Data" },
          {
            name: "i.txt",
            content: "aGk=",
            encoding: "base64",
            mimeType: "text/plain",
            relationship: "Source",
          },
        ],
      },
      pdf,
      undefined,
    );
    expect(plan.stamps[0]?.image).toEqual({ bytes: PNG, type: "png" });
    expect(plan.stamps[0]?.pages).toEqual([{ from: 2, to: 3 }, { from: 5 }]);
    expect(plan.attachments.map((a) => Buffer.from(a.bytes).toString())).toEqual(["a", "hi"]);
  });

  it("orders parts as listed, stored PDFs read from the assets, and refuses an asset that is not a PDF", async () => {
    const terms = new TextEncoder().encode("%PDF-1.7 terms");
    const schedule = new TextEncoder().encode("%PDF-1.7 schedule");
    const plan = await planFinishing(
      assets({ "assets/t/terms.pdf": terms }),
      "t",
      { parts: [{ bookmark: "Schedule" }, { bookmark: "Terms", asset: "terms.pdf" }] },
      pdf,
      undefined,
      new Map([[0, schedule]]),
    );
    expect(plan.parts).toEqual([
      { bookmark: "Schedule", pdf: schedule },
      { bookmark: "Terms", pdf: terms },
    ]);
    expect(plan.bookmark).toBe("Document");
    const notPdf = planFinishing(
      assets({ "assets/t/terms.pdf": PNG }),
      "t",
      { parts: [{ bookmark: "Terms", asset: "terms.pdf" }] },
      pdf,
      undefined,
    );
    await expect(notPdf).rejects.toMatchObject({
      code: "asset_not_pdf",
      message: expect.stringContaining("output.pdf.parts.0.asset"),
    });
  });

  it("fails the job naming a missing asset or one that is not an image", async () => {
    const missing = planFinishing(
      assets({}),
      "t",
      { stamps: [{ ...stampDefaults, image: "gone.png" }] },
      pdf,
      undefined,
    );
    await expect(missing).rejects.toMatchObject({
      code: "asset_missing",
      message: expect.stringContaining("output.pdf.stamps.0.image"),
    });
    const notImage = planFinishing(
      assets({ "assets/t/a.csv": new Uint8Array([1, 2, 3]) }),
      "t",
      { stamps: [{ ...stampDefaults, image: "a.csv" }] },
      pdf,
      undefined,
    );
    await expect(notImage).rejects.toMatchObject({ code: "asset_not_image" });
  });
});

const stampDefaults = {
  layer: "over" as const,
  position: "center" as const,
  opacity: 0.25,
  rotation: 0,
  font: "Noto Sans Bold" as const,
  fontSize: 72,
  color: "#C00000",
  margin: 36,
};

describe("page ranges", () => {
  it("parses single pages, closed and open ranges", () => {
    const ranges = parsePageRanges("1, 3-4, 7-");
    expect([1, 2, 3, 4, 5, 6, 7, 99].filter((p) => inPageRanges(p, ranges))).toEqual([1, 3, 4, 7, 99]);
    expect(inPageRanges(42, undefined)).toBe(true);
  });
});

describe("passwords once the job has ended", () => {
  const request = (protection: Record<string, unknown>) =>
    parseOrThrow(RenderSubmissionSchema, submission({ protection })) as RenderRequest;

  it("are redacted in the stored request", () => {
    const redacted = redactPasswords(request({ userPassword: "u", ownerPassword: "o" }));
    expect(redacted.output.pdf?.protection).toMatchObject({
      userPassword: REDACTED_PASSWORD,
      ownerPassword: REDACTED_PASSWORD,
    });
    expect(holdsPasswords(redacted)).toBe(false);
    expect(holdsPasswords(request({ ownerPassword: "o" }))).toBe(true);
  });

  it("are gone from the job store after the worker finished the job", async () => {
    const jobs = new MemoryJobStore();
    const clock = new FixedClock();
    const stored = parseOrThrow(
      RenderSubmissionSchema,
      submission({ protection: { userPassword: "specimen" } }, { clock: "2026-01-01T00:00:00Z" }),
    );
    const job: Job = {
      tenant: "t1",
      id: "j1",
      status: "queued",
      createdAt: clock.now().toISOString(),
      updatedAt: clock.now().toISOString(),
      attempts: 0,
    };
    jobs.jobs.set("t1/j1", job);
    await jobs.storeRequest("t1", "j1", stored);
    const plans: FinishingPlan[] = [];
    const finisher: PdfFinisher = {
      finish: async (pdf, plan) => {
        plans.push(plan);
        return new Uint8Array([...pdf, 1]);
      },
    };
    const result = await renderJob(
      {
        jobs,
        renderer: new EchoRenderer(),
        outputs: new MemoryObjectStore(),
        payloads: new MemoryPayloadStore(),
        webhooks: new MemoryWebhookQueue(),
        clock,
        lease: { leaseMs: 20_000, renewEveryMs: 60_000 },
        retry: { baseSeconds: 4, maxSeconds: 60 },
        finisher,
      },
      { tenant: "t1", jobId: "j1" },
      { receiveCount: 1, maxReceiveCount: 4 },
    );
    expect(result).toMatchObject({ outcome: "done", status: "succeeded" });
    // The finisher had the password; the store keeps it no more.
    expect(plans[0]?.protection?.userPassword).toBe("specimen");
    expect((await jobs.getRequest("t1", "j1"))?.output.pdf?.protection?.userPassword).toBe(REDACTED_PASSWORD);
  });
});
