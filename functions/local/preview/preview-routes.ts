import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { LocalRoute } from "../api-gateway-server.js";

const FILES = {
  page: new URL("./index.html", import.meta.url),
  script: new URL("./preview.js", import.meta.url),
  style: new URL("./preview.css", import.meta.url),
};

/** The pdf.js build the page draws PDFs with (a devDependency, as the local stack itself is). */
const PDFJS_FILES = {
  library: "pdfjs-dist/build/pdf.min.mjs",
  worker: "pdfjs-dist/build/pdf.worker.min.mjs",
} as const;

/** Where the page and its files are served, on the local API port. */
export const PREVIEW_PATHS = {
  page: "/preview",
  script: "/preview/preview.js",
  style: "/preview/preview.css",
  pdfjs: "/preview/pdfjs/pdf.min.mjs",
  pdfjsWorker: "/preview/pdfjs/pdf.worker.min.mjs",
  /** A rendered output fetched from the edge for the page's own script (the edge sends no CORS headers). */
  output: "/preview/output",
} as const;

/**
 * The preview page of the local stack: edit a template's data, see it rendered through the API.
 * The page carries an API key so that it works without setup. That is acceptable only because the
 * local API gateway binds 127.0.0.1: nobody else can load the page. It does not exist on AWS.
 */
export async function previewRoutes(options: {
  /** The key the page calls the API with (the first tenant's). */
  apiKey: string;
  /** The local CloudFront edge: rendered outputs are signed URLs there, another origin. */
  edgeUrl: string;
}): Promise<Record<string, LocalRoute>> {
  const [page, script, style] = await Promise.all([
    readFile(FILES.page, "utf8"),
    readFile(FILES.script),
    readFile(FILES.style),
  ]);
  const html = Buffer.from(
    page.replace("{{API_KEY}}", () => escapeAttribute(options.apiKey)),
    "utf8",
  );
  const edge = new URL(options.edgeUrl).origin;
  // Only this page's own files run (pdf.js included, its worker too); the API is same-origin; outputs
  // load from the edge only (a PDF's bytes through PREVIEW_PATHS.output, same-origin).
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "worker-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    `img-src ${edge}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");

  const headers = (contentType: string) => ({
    "content-type": contentType,
    // The page holds an API key: never keep it in a cache.
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  const send =
    (body: Buffer, contentType: string, extra: Record<string, string> = {}): LocalRoute =>
    async (req, res) => {
      req.resume();
      res.writeHead(200, { ...headers(contentType), "content-length": body.length, ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
    };
  // Read on first use: the page works without pdf.js until a PDF is shown.
  const sendPdfjs = (file: string): LocalRoute => {
    let body: Promise<Buffer> | undefined;
    return async (req, res) => {
      body ??= readFile(new URL(import.meta.resolve(file)));
      const read = await body.catch(() => undefined);
      if (!read) {
        body = undefined;
        return answerText(res, 404, `pdf.js is not installed (${file}): PDFs cannot be shown.`);
      }
      return send(read, "text/javascript; charset=utf-8")(req, res);
    };
  };

  return {
    [PREVIEW_PATHS.page]: send(html, "text/html; charset=utf-8", { "content-security-policy": csp }),
    [PREVIEW_PATHS.script]: send(script, "text/javascript; charset=utf-8"),
    [PREVIEW_PATHS.style]: send(style, "text/css; charset=utf-8"),
    [PREVIEW_PATHS.pdfjs]: sendPdfjs(PDFJS_FILES.library),
    [PREVIEW_PATHS.pdfjsWorker]: sendPdfjs(PDFJS_FILES.worker),
    [PREVIEW_PATHS.output]: async (req, res) => {
      req.resume();
      const raw = new URL(req.url ?? "/", "http://127.0.0.1").searchParams.get("url") ?? "";
      const target = URL.canParse(raw) ? new URL(raw) : undefined;
      // Only the edge, which checks the URL's signature itself: never a relay to anywhere else.
      if (target?.origin !== edge) {
        return answerText(res, 400, `url: must be a signed URL on the local edge (${edge}).`);
      }
      const answer = await fetch(target);
      const body = Buffer.from(await answer.arrayBuffer());
      res.writeHead(answer.status, {
        ...headers(answer.headers.get("content-type") ?? "application/octet-stream"),
        "content-length": body.length,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    },
  };
}

function answerText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

function escapeAttribute(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll('"', "&quot;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}
