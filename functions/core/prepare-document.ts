import { type AssetInfo, type AssetUrls, type SignAssetsDeps, signJobAssets } from "./assets.js";
import { PermanentRenderError } from "./errors.js";
import type { OutputOptions, PageOptions } from "./output-options.js";
import type { PdfMetadata } from "./pdf-metadata.js";
import type { SecretCipher, TenantSettingsStore } from "./ports.js";
import { stampPrintDate } from "./print-date.js";
import type { RenderRequest } from "./render-request.js";
import { renderTemplate as hydrate } from "./template-engine.js";
import { TEMPLATE_MISSING, type TemplateLoader } from "./templates.js";
import type { TenantSettings } from "./tenant-settings.js";
import { assertJavaScriptAllowed, type LivePage, openLivePage } from "./url-source.js";

/** The parts of a render request that decide what the page is: the request schema's own types. */
export type DocumentRequest = Pick<
  RenderRequest,
  | "template"
  | "source"
  | "data"
  | "assets"
  | "output"
  | "waitFor"
  | "clock"
  | "resourceErrors"
  | "timeoutMs"
  | "javascript"
  | "blockedRequests"
  | "emulateMedia"
>;

export interface DocumentDeps {
  /** Stored templates; a job naming one fails without it. */
  readonly templates?: TemplateLoader;
  /** Signs asset URLs at render time; a job naming assets fails without it. */
  readonly assets?: SignAssetsDeps;
  /** The tenant's settings (its egress allowlist); without them a template reaches only Kiln's assets. */
  readonly settings?: TenantSettingsStore;
  /** Decrypts the headers and cookies of URL jobs; a URL job that has some fails without it. */
  readonly pageSecrets?: SecretCipher;
}

export interface PreparedDocument {
  readonly html: string;
  /** The output options with PDF header and footer hydrated like the template (and dated by the clock). */
  readonly output: OutputOptions;
  readonly page: PageOptions;
  /** What it was made from, beyond the request: for its provenance and the render cache. */
  readonly used: {
    /** The template's HTML as loaded, and a stored version's content hash. */
    readonly source: string;
    readonly templateSha256?: string;
    readonly templateJavaScript: boolean;
    /** The stored version of each asset, by name. */
    readonly assets: Readonly<Record<string, AssetInfo>>;
    readonly settings: TenantSettings | undefined;
  };
}

/**
 * Steps 1–3 of a render, in the worker: resolve the template version, sign the job's assets now (not
 * at submission: a job may wait in the queue longer than a URL lives), and hydrate the template — and
 * a PDF's header and footer — with the data and the signed URLs. With a clock, the header's and
 * footer's `date` elements get the clock's instant.
 */
export async function prepareDocument(
  deps: DocumentDeps,
  tenant: string,
  request: DocumentRequest,
): Promise<PreparedDocument> {
  const template = request.template;
  if (!template) throw new PermanentRenderError(TEMPLATE_MISSING, "The job names no template.");
  let source: string;
  let templateJavaScript = false;
  let templateMetadata: PdfMetadata | undefined;
  let templateSha256: string | undefined;
  if ("html" in template) {
    source = template.html;
  } else if (deps.templates) {
    const loaded = await deps.templates.load(tenant, template.id, template.version);
    source = loaded.html;
    templateJavaScript = loaded.javascript;
    templateMetadata = loaded.pdfMetadata;
    templateSha256 = loaded.sha256;
  } else {
    throw new PermanentRenderError(TEMPLATE_MISSING, "Stored templates are not configured for this worker.");
  }

  let urls: AssetUrls = {};
  let assets: Readonly<Record<string, AssetInfo>> = {};
  if (request.assets && Object.keys(request.assets).length > 0) {
    if (!deps.assets) {
      throw new PermanentRenderError("asset_missing", "Assets are not configured for this worker.");
    }
    ({ urls, versions: assets } = await signJobAssets(deps.assets, tenant, request.assets));
  }

  const html = await hydrate(source, request.data, urls, request.clock);
  // With a clock the print date is the clock's too, not the moment Chromium prints.
  const headerFooter = async (template: string) => {
    const hydrated = await hydrate(template, request.data, urls, request.clock);
    return request.clock ? stampPrintDate(hydrated, request.clock) : hydrated;
  };
  // The template version's PDF metadata, under the job's own field by field (the schema's defaults
  // stand in for a job without PDF options).
  const pdf =
    templateMetadata && request.output.format === "pdf"
      ? {
          ...(request.output.pdf ?? { landscape: false, printBackground: true }),
          metadata: { ...templateMetadata, ...request.output.pdf?.metadata },
        }
      : request.output.pdf;
  const output: OutputOptions =
    pdf && (pdf.headerTemplate !== undefined || pdf.footerTemplate !== undefined)
      ? {
          ...request.output,
          pdf: {
            ...pdf,
            ...(pdf.headerTemplate !== undefined
              ? { headerTemplate: await headerFooter(pdf.headerTemplate) }
              : {}),
            ...(pdf.footerTemplate !== undefined
              ? { footerTemplate: await headerFooter(pdf.footerTemplate) }
              : {}),
          },
        }
      : pdf === request.output.pdf
        ? request.output
        : { ...request.output, pdf };
  const settings = await deps.settings?.get(tenant);
  const page = pageOptions(
    request,
    request.javascript === true || templateJavaScript,
    settings?.egress.allowHosts,
  );
  return {
    html,
    output,
    page,
    used: {
      source,
      ...(templateSha256 ? { templateSha256 } : {}),
      templateJavaScript,
      assets,
      settings,
    },
  };
}

export interface PreparedLivePage {
  readonly live: LivePage;
  readonly output: OutputOptions;
  readonly page: PageOptions;
}

/**
 * A URL job's steps before the render: its headers and cookies decrypted, and JavaScript only where
 * the tenant's settings allow it on the page's host (read now, like the allowlist).
 */
export async function prepareLivePage(
  deps: DocumentDeps,
  tenant: string,
  request: DocumentRequest,
): Promise<PreparedLivePage> {
  const source = request.source;
  if (!source) throw new PermanentRenderError("source_missing", "The job names no source.");
  const settings = await deps.settings?.get(tenant);
  if (request.javascript === true)
    assertJavaScriptAllowed(source.url, settings?.urlJobs?.javascriptHosts ?? []);
  const live = await openLivePage(deps.pageSecrets, tenant, source);
  return {
    live,
    output: request.output,
    page: pageOptions(request, request.javascript === true, settings?.egress.allowHosts),
  };
}

function pageOptions(
  request: DocumentRequest,
  javascript: boolean,
  allowHosts: readonly string[] | undefined,
): PageOptions {
  return {
    ...(request.waitFor ? { waitFor: request.waitFor } : {}),
    ...(request.clock ? { clock: request.clock } : {}),
    resourceErrors: request.resourceErrors ?? "fail",
    ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
    javascript,
    blockedRequests: request.blockedRequests ?? "fail",
    ...(request.emulateMedia ? { emulateMedia: request.emulateMedia } : {}),
    // Read when the job renders, so a changed allowlist applies to jobs already queued.
    allowHosts: allowHosts ?? [],
  };
}
