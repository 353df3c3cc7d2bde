import { readFile } from "node:fs/promises";
import type { LocalRoute } from "../api-gateway-server.js";

const FILES = {
  page: new URL("./index.html", import.meta.url),
  script: new URL("./preview.js", import.meta.url),
  style: new URL("./preview.css", import.meta.url),
};

/** Where the page and its two files are served, on the local API port. */
export const PREVIEW_PATHS = {
  page: "/preview",
  script: "/preview/preview.js",
  style: "/preview/preview.css",
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
  // Only this page's own files run; the API is same-origin; outputs load from the edge only.
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    `img-src ${edge}`,
    `frame-src ${edge}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");

  const send =
    (body: Buffer, contentType: string, extra: Record<string, string> = {}): LocalRoute =>
    async (req, res) => {
      req.resume();
      res.writeHead(200, {
        "content-type": contentType,
        "content-length": body.length,
        // The page holds an API key: never keep it in a cache.
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        ...extra,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };

  return {
    [PREVIEW_PATHS.page]: send(html, "text/html; charset=utf-8", { "content-security-policy": csp }),
    [PREVIEW_PATHS.script]: send(script, "text/javascript; charset=utf-8"),
    [PREVIEW_PATHS.style]: send(style, "text/css; charset=utf-8"),
  };
}

function escapeAttribute(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll('"', "&quot;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}
