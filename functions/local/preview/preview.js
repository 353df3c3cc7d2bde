// The Kiln preview page: every edit renders through the normal API (POST /v1/renders, which waits
// for a quick render; GET /v1/renders/{id} until the job ends otherwise), so what it shows is what the
// API gives.

const DEBOUNCE_MS = 400;
const POLL_MS = 150;
/** How long POST /v1/renders may hold the request until the job ends (`Prefer: wait=N`). */
const SUBMIT_WAIT_SECONDS = 20;
/** Pages of a PDF drawn at most: enough to check a document, not a book. */
const MAX_PDF_PAGES = 20;
const apiKey = document.querySelector('meta[name="kiln-api-key"]')?.getAttribute("content") ?? "";
const $ = (id) => document.getElementById(id);
const ERROR_BOXES = [
  "template-error",
  "source-error",
  "assets-error",
  "data-error",
  "output-error",
  "pdf-error",
  "result-error",
];
/** Which box shows a 400's field, by the field's first segments; the first match wins. */
const FIELD_BOXES = [
  ["output.pdf", "pdf-error"],
  ["output", "output-error"],
  ["emulateMedia", "output-error"],
  ["source", "source-error"],
  ["javascript", "source-error"],
  ["data", "data-error"],
  ["template", "template-error"],
  ["assets", "assets-error"],
];
const INLINE_DATA = $("data").value;
/** `{{ 'logo' | asset_url }}` (or with double quotes): the asset names a template uses. */
const ASSET_REFERENCE = /(['"])([A-Za-z][A-Za-z0-9_-]{0,63})\1\s*\|\s*asset_url\b/g;
const STORAGE_PREFIX = "kiln-preview:";

/** Bumped by every refresh: an answer for an older generation is dropped, never shown. */
let generation = 0;
/** Bumped by every template choice: a version's source that arrives late is dropped. */
let choice = 0;
let inFlight;
let debounce;
let pdfjs;
/**
 * What is being edited: inline HTML, a stored version once its source has loaded, a live page
 * (`{ url: true }`), or unavailable.
 */
let template = { inline: true };

function setStatus(text) {
  $("status").textContent = text;
}

function showError(boxId, text) {
  const box = $(boxId);
  box.textContent = text;
  box.hidden = false;
}

function clearErrors() {
  for (const id of ERROR_BOXES) {
    $(id).hidden = true;
    $(id).textContent = "";
  }
  $("data").removeAttribute("aria-invalid");
}

/** An API error as its code and message; a 4xx's message names each field (`data.total: …`). */
function describeError(error) {
  return `${error?.code ?? "error"}: ${error?.message ?? "the request was refused"}`;
}

async function api(method, path, body, signal, extraHeaders = {}) {
  const raw = body instanceof Blob;
  const res = await fetch(path, {
    method,
    signal,
    headers: {
      ...extraHeaders,
      "x-api-key": apiKey,
      ...(body === undefined
        ? {}
        : { "content-type": raw ? body.type || "application/octet-stream" : "application/json" }),
    },
    ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { error: { code: `http_${res.status}`, message: text.slice(0, 200) } };
  }
  return { ok: res.ok, status: res.status, body: parsed };
}

/** localStorage, which a browser may refuse (private mode, full): the page works without it. */
const store = {
  get(key) {
    try {
      return JSON.parse(localStorage.getItem(STORAGE_PREFIX + key) ?? "null") ?? undefined;
    } catch {
      return undefined;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(STORAGE_PREFIX + key, JSON.stringify(value));
    } catch {
      // Not remembered: the next visit starts from the example instead.
    }
  },
};

/** Where the last data and assets used with the current template are remembered. */
function templateKey() {
  return template.inline ? "inline" : `template:${template.id}@${template.version}`;
}

/** Where in `text` JSON parsing first fails, or undefined when it parses. */
function jsonErrorOffset(text) {
  let i = 0;
  const fail = () => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const literal = (word) => {
    if (!text.startsWith(word, i)) fail();
    i += word.length;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i])) i++;
        else fail();
      } else if (c < " ") fail();
      else i++;
    }
    fail();
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) fail();
    i += match[0].length;
  };
  const members = (close, member) => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      member();
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] !== close) fail();
      i++;
      return;
    }
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      return members("}", () => {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
      });
    }
    if (c === "[") return members("]", value);
    if (c === '"') return string();
    if (c === "t") return literal("true");
    if (c === "f") return literal("false");
    if (c === "n") return literal("null");
    if (c === "-" || (c >= "0" && c <= "9")) return number();
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (at) {
    if (typeof at === "number") return at;
    throw at;
  }
}

/** The data box as an object, or a sentence saying where it stops being JSON. */
function readData() {
  const text = $("data").value;
  if (text.trim() === "") return { value: {} };
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    const at = jsonErrorOffset(text) ?? text.length;
    const before = text.slice(0, at);
    const line = before.split("\n").length;
    const column = at - before.lastIndexOf("\n");
    const found = at >= text.length ? "the text ends too early" : `unexpected ${JSON.stringify(text[at])}`;
    return {
      error: `Data is not valid JSON at line ${line}, column ${column}: ${found}. (${err.message})`,
    };
  }
}

/** The names of the assets the HTML uses, in order of first use. */
function assetNames(html) {
  return [...new Set([...html.matchAll(ASSET_REFERENCE)].map((m) => m[2]))];
}

/** Asset name → the key typed, picked or uploaded for it; empty keys are left out. */
function chosenAssets() {
  const refs = {};
  for (const input of document.querySelectorAll("#asset-rows input[data-asset-name]")) {
    const key = input.value.trim();
    if (key) refs[input.dataset.assetName] = key;
  }
  return refs;
}

/** Keys uploaded or rendered with here, offered in every asset row. */
function rememberAssetKeys(keys) {
  const known = new Set([...(store.get("asset-keys") ?? []), ...keys]);
  store.set("asset-keys", [...known].sort());
  listKnownAssetKeys();
}

function listKnownAssetKeys() {
  $("asset-keys").replaceChildren(
    ...(store.get("asset-keys") ?? []).map((key) =>
      Object.assign(document.createElement("option"), { value: key }),
    ),
  );
}

/** One row per asset name: a key input (with the keys used before to pick from) and a file upload. */
function showAssetRows(names, keys) {
  const rows = names.map((name) => {
    const row = document.createElement("div");
    row.className = "asset-row";
    const label = Object.assign(document.createElement("label"), {
      htmlFor: `asset-key-${name}`,
      textContent: name,
    });
    const input = Object.assign(document.createElement("input"), {
      id: `asset-key-${name}`,
      type: "text",
      value: keys[name] ?? "",
      placeholder: "folder/file.png",
      spellcheck: false,
    });
    input.setAttribute("list", "asset-keys");
    input.dataset.assetName = name;
    input.addEventListener("input", schedule);
    const upload = Object.assign(document.createElement("input"), { id: `asset-file-${name}`, type: "file" });
    upload.setAttribute("aria-label", `Upload a file as asset ${name}`);
    upload.addEventListener("change", () => uploadAsset(name, upload, input));
    row.append(label, input, upload);
    return row;
  });
  $("asset-rows").replaceChildren(...rows);
  $("assets").hidden = names.length === 0;
}

/** Inline HTML: the rows follow the asset names as they are typed, keeping the keys already chosen. */
function syncInlineAssets() {
  const names = assetNames($("html").value);
  const shown = [...document.querySelectorAll("#asset-rows input[data-asset-name]")].map(
    (i) => i.dataset.assetName,
  );
  if (names.join("\n") !== shown.join("\n")) showAssetRows(names, chosenAssets());
}

/** PUT /v1/assets/{key}, the key made of the template's id and the file's name. */
async function uploadAsset(name, upload, input) {
  const file = upload.files?.[0];
  if (!file) return;
  const folder = template.inline ? "preview" : template.id;
  const key = `${folder}/${file.name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^\.+/, "")}`;
  setStatus(`uploading ${file.name}…`);
  const path = `/v1/assets/${key.split("/").map(encodeURIComponent).join("/")}`;
  const stored = await api("PUT", path, file).catch((err) => ({
    ok: false,
    body: { error: { code: "unreachable", message: err.message } },
  }));
  upload.value = "";
  if (!stored.ok) {
    showError(
      "assets-error",
      `Upload of ${file.name} as ${name} refused: ${describeError(stored.body?.error)}`,
    );
    setStatus("upload refused");
    return;
  }
  input.value = stored.body.key;
  rememberAssetKeys([stored.body.key]);
  clearTimeout(debounce);
  refresh();
}

function renderRequest(data) {
  return {
    template: template.inline ? { html: $("html").value } : { id: template.id, version: template.version },
    data,
    assets: chosenAssets(),
    output: outputOptions(),
  };
}

function outputOptions() {
  const output = {
    format: $("format").value,
    width: Number($("width").value),
    height: Number($("height").value),
  };
  const pdf = output.format === "pdf" ? pdfFinishing() : undefined;
  return pdf ? { ...output, pdf } : output;
}

/** The PDF finishing controls as `output.pdf`; empty controls are left out, so the API's defaults apply. */
function pdfFinishing() {
  const text = (id) => $(id).value.trim();
  const number = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  const metadata = {};
  for (const field of ["title", "author", "subject", "language"]) {
    if (text(`pdf-${field}`)) metadata[field] = text(`pdf-${field}`);
  }
  const keywords = text("pdf-keywords")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  if (keywords.length > 0) metadata.keywords = keywords;
  const pdf = {};
  if (Object.keys(metadata).length > 0) pdf.metadata = metadata;
  if (text("stamp-text")) {
    const stamp = { text: text("stamp-text"), layer: $("stamp-layer").value };
    for (const [field, id] of [
      ["opacity", "stamp-opacity"],
      ["rotation", "stamp-rotation"],
    ]) {
      if (number(id) !== undefined) stamp[field] = number(id);
    }
    pdf.stamps = [stamp];
  }
  // Sent with this render only: the password is in no store of the page.
  if ($("pdf-password").value) pdf.protection = { userPassword: $("pdf-password").value };
  if ($("pdf-standard").value) pdf.standard = $("pdf-standard").value;
  return Object.keys(pdf).length > 0 ? pdf : undefined;
}

/**
 * The live page's `source`: its URL and the headers and cookies typed one a line, or a sentence naming
 * the line that is not one. They are read from the form for each render and kept nowhere else.
 */
function liveSource() {
  const url = $("page-url").value.trim();
  if (!url) return { error: "source.url: give the page's URL" };
  const pairs = (id, field, separator, shape) => {
    const entries = {};
    const lines = $(id).value.split("\n");
    for (const [i, line] of lines.entries()) {
      if (line.trim() === "") continue;
      const at = line.indexOf(separator);
      if (at < 1) return { error: `source.${field}: line ${i + 1} is not ${shape}` };
      entries[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return { value: Object.keys(entries).length > 0 ? entries : undefined };
  };
  const headers = pairs("page-headers", "headers", ":", '"Name: value"');
  if (headers.error) return headers;
  const cookies = pairs("page-cookies", "cookies", "=", '"name=value"');
  if (cookies.error) return cookies;
  return {
    value: {
      url,
      ...(headers.value ? { headers: headers.value } : {}),
      ...(cookies.value ? { cookies: cookies.value } : {}),
    },
  };
}

/** A 4xx: its code and message above the result, and each field next to the control it names. */
function showApiError(body) {
  const error = body?.error ?? {};
  showError("result-error", describeError(error));
  const fields = Array.isArray(error.fields) ? error.fields : [];
  const byBox = new Map();
  for (const { field, message } of fields) {
    const name = String(field ?? "");
    // Fields of no control (the whole body, `clock`) are in the message above.
    const box = FIELD_BOXES.find(([prefix]) => name === prefix || name.startsWith(`${prefix}.`))?.[1];
    if (!box) continue;
    byBox.set(box, [...(byBox.get(box) ?? []), `${name}: ${message}`]);
  }
  for (const [box, lines] of byBox) showError(box, lines.join("\n"));
  if (byBox.has("data-error")) $("data").setAttribute("aria-invalid", "true");
}

/** Nothing of an earlier render stays on screen once the current input has failed. */
function clearResult() {
  const image = $("image");
  image.hidden = true;
  image.removeAttribute("src");
  delete image.dataset.sha256;
  const pages = $("pdf");
  pages.hidden = true;
  pages.replaceChildren();
  delete pages.dataset.sha256;
  $("download")?.remove();
  $("meta").textContent = "";
  $("document").hidden = true;
  $("document").textContent = "";
  document.querySelector(".canvas").classList.remove("stale");
}

/**
 * Chromium's PDF viewer is a plugin that headless Chromium does not run (a frame stays blank), so
 * pages are drawn by pdf.js, served by the local stack, into canvases. The bytes come through the
 * page's own origin, as the edge sends no CORS headers.
 */
async function drawPdf(url, current) {
  pdfjs ??= import("/preview/pdfjs/pdf.min.mjs").then((lib) => {
    lib.GlobalWorkerOptions.workerSrc = "/preview/pdfjs/pdf.worker.min.mjs";
    return lib;
  });
  const lib = await pdfjs;
  const loading = lib.getDocument({
    url: `/preview/output?url=${encodeURIComponent(url)}`,
    disableRange: true,
    disableStream: true,
    useWasm: false,
  });
  try {
    const doc = await loading.promise;
    const width = document.querySelector(".canvas").clientWidth - 24;
    const canvases = [];
    const count = Math.min(doc.numPages, MAX_PDF_PAGES);
    for (let n = 1; n <= count; n++) {
      const page = await doc.getPage(n);
      if (!current()) return undefined;
      const natural = page.getViewport({ scale: 1 });
      const viewport = page.getViewport({ scale: Math.min(2, width / natural.width) });
      const ratio = window.devicePixelRatio || 1;
      const canvas = document.createElement("canvas");
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.style.width = `${Math.floor(viewport.width)}px`;
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `Page ${n} of ${doc.numPages}`);
      await page.render({ canvas, viewport, transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0] })
        .promise;
      canvases.push(canvas);
    }
    return { canvases, pages: doc.numPages };
  } finally {
    loading.destroy();
  }
}

async function showOutput(job, current, { protectedPdf }) {
  const { url, contentType, bytes, sha256, document: rendered } = job.output;
  const pdf = contentType === "application/pdf";
  let note = "";
  if (pdf && protectedPdf) {
    // pdf.js would ask for the password: the download link is the output.
    $("pdf").hidden = true;
    $("pdf").replaceChildren();
    $("image").hidden = true;
    $("image").removeAttribute("src");
    note = " · protected with a password: not drawn here";
  } else if (pdf) {
    const drawn = await drawPdf(url, current);
    if (!drawn) return;
    const pages = $("pdf");
    pages.replaceChildren(...drawn.canvases);
    pages.dataset.sha256 = sha256;
    pages.hidden = false;
    $("image").hidden = true;
    $("image").removeAttribute("src");
    if (drawn.pages > drawn.canvases.length)
      note = ` · first ${drawn.canvases.length} of ${drawn.pages} pages shown`;
  } else {
    const image = $("image");
    image.src = url;
    image.dataset.sha256 = sha256;
    image.hidden = false;
    $("pdf").hidden = true;
    $("pdf").replaceChildren();
  }
  // Made with each output and removed on failure: a link is there only when there is something to get.
  let download = $("download");
  if (!download) {
    download = Object.assign(document.createElement("a"), {
      id: "download",
      target: "_blank",
      rel: "noopener",
    });
    document.querySelector(".toolbar").prepend(download);
  }
  download.href = url;
  download.textContent = `Download ${contentType.split("/")[1].toUpperCase()} (${Math.ceil(bytes / 1024)} KB)`;
  $("meta").textContent = `sha256 ${sha256.slice(0, 12)}…${note}`;
  // A live page: what was rendered, so two outputs can be compared (README "Live pages").
  $("document").hidden = !rendered;
  $("document").textContent = rendered ? `Page ${rendered.url} · document sha256 ${rendered.sha256}` : "";
}

function wait(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

async function refresh() {
  const mine = ++generation;
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  const { signal } = controller;
  const current = () => mine === generation && !signal.aborted;
  if (template.unavailable) return;

  clearErrors();
  const fail = (status) => {
    clearResult();
    setStatus(status);
  };
  let request;
  if (template.url) {
    const source = liveSource();
    if (source.error) {
      showError("source-error", source.error);
      return fail("waiting for the page");
    }
    request = { source: source.value, output: outputOptions() };
  } else {
    const data = readData();
    if (data.error) {
      showError("data-error", data.error);
      $("data").setAttribute("aria-invalid", "true");
      return fail("waiting for valid JSON");
    }
    request = renderRequest(data.value);
    const unchosen = [...document.querySelectorAll("#asset-rows input[data-asset-name]")]
      .map((input) => input.dataset.assetName)
      .filter((name) => !(name in request.assets));
    if (unchosen.length > 0) {
      showError(
        "assets-error",
        unchosen
          .map((name) => `assets.${name}: the template uses it; give a stored key or upload a file`)
          .join("\n"),
      );
      return fail("waiting for assets");
    }
  }
  if ($("media").value) request.emulateMedia = $("media").value;
  const canvas = document.querySelector(".canvas");
  canvas.classList.add("stale");
  setStatus("rendering…");
  const started = performance.now();
  try {
    // A quick render answers 200 with the ended job; a 202 (still queued or rendering) is polled.
    const submitted = await api("POST", "/v1/renders", request, signal, {
      prefer: `wait=${SUBMIT_WAIT_SECONDS}`,
    });
    if (!current()) return;
    if (!submitted.ok) {
      showApiError(submitted.body);
      return fail(`refused (${submitted.status})`);
    }
    // A live page's headers and cookies are never stored: nothing of it is remembered.
    if (!template.url) {
      store.set(templateKey(), { data: $("data").value, assets: request.assets });
      if (!template.inline) store.set(`assets:${template.id}`, request.assets);
    }
    let job = submitted.body;
    while (job.status !== "succeeded" && job.status !== "failed") {
      await wait(POLL_MS, signal);
      const polled = await api(
        "GET",
        `/v1/renders/${encodeURIComponent(submitted.body.id)}`,
        undefined,
        signal,
      );
      if (!current()) return;
      if (!polled.ok) {
        showApiError(polled.body);
        return fail(`lost the job (${polled.status})`);
      }
      job = polled.body;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    if (job.status === "failed") {
      showError("result-error", `The render failed: ${describeError(job.error)}`);
      return fail(`failed after ${seconds} s`);
    }
    // Only keys a render has found: a missing one is not offered again.
    if (request.assets) rememberAssetKeys(Object.values(request.assets));
    await showOutput(job, current, { protectedPdf: request.output.pdf?.protection !== undefined });
    if (!current()) return;
    canvas.classList.remove("stale");
    setStatus(`rendered in ${seconds} s (job ${job.id})`);
  } catch (err) {
    if (!current()) return;
    showError("result-error", `Kiln could not be reached or the output could not be shown: ${err.message}`);
    fail("failed");
  }
}

function schedule() {
  clearTimeout(debounce);
  debounce = setTimeout(refresh, DEBOUNCE_MS);
}

/** Every version of every template, newest first under its template's name. */
async function loadTemplates() {
  const listed = await api("GET", "/v1/templates").catch(() => undefined);
  if (!listed?.ok) {
    showError(
      "template-error",
      `Stored templates could not be listed: ${describeError(listed?.body?.error)}`,
    );
    return;
  }
  const histories = await Promise.all(
    (listed.body.templates ?? []).map((t) => api("GET", `/v1/templates/${encodeURIComponent(t.id)}`)),
  );
  const groups = histories
    .filter((h) => h.ok)
    .map(({ body }) => {
      const group = Object.assign(document.createElement("optgroup"), { label: body.id });
      for (const v of [...body.versions].reverse()) {
        const flags = [v.version === body.latestVersion && "latest", v.hasSchema && "with schema"].filter(
          Boolean,
        );
        const option = document.createElement("option");
        option.value = JSON.stringify({ id: v.id, version: v.version });
        option.textContent = `${v.id} @ ${v.version}${flags.length ? ` (${flags.join(", ")})` : ""}`;
        group.append(option);
      }
      return group;
    });
  $("template").append(...groups);
}

/** The first of the schema's `examples`, as the JSON Schema annotation holds them. */
function schemaExample(schema) {
  const examples = schema?.examples;
  return Array.isArray(examples) && examples.length > 0 ? examples[0] : undefined;
}

/**
 * A different template: its own data (what was last rendered with this version, else its schema's
 * first example, else nothing) and assets, never what the previous template was given.
 */
async function onTemplateChange() {
  const mine = ++choice;
  const value = $("template").value;
  clearTimeout(debounce);
  clearErrors();
  clearResult();
  $("load-example").hidden = true;
  const live = value === "url";
  $("live-page").hidden = !live;
  for (const id of ["data-label", "data"]) $(id).hidden = live;
  if (live) {
    template = { url: true };
    $("inline-html").hidden = true;
    $("stored-html").hidden = true;
    $("assets").hidden = true;
    return refresh();
  }
  if (value === "") {
    template = { inline: true };
    $("inline-html").hidden = false;
    $("stored-html").hidden = true;
    const remembered = store.get(templateKey());
    $("data").value = remembered?.data ?? INLINE_DATA;
    showAssetRows(assetNames($("html").value), remembered?.assets ?? {});
    return refresh();
  }
  const { id, version } = JSON.parse(value);
  // Nothing renders until the version's source is here (and not at all if it cannot be loaded).
  template = { unavailable: true };
  $("inline-html").hidden = true;
  $("stored-html").hidden = true;
  setStatus(`loading ${id} @ ${version}…`);
  const source = await api(
    "GET",
    `/v1/templates/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}`,
  ).catch((err) => ({ ok: false, body: { error: { code: "unreachable", message: err.message } } }));
  if (mine !== choice) return;
  if (!source.ok) {
    showError(
      "template-error",
      `${id} @ ${version} could not be loaded: ${describeError(source.body?.error)}`,
    );
    setStatus("template not loaded");
    return;
  }
  const { html, schema } = source.body;
  template = { id, version, schema };
  $("source").value = html;
  $("stored-html").hidden = false;
  const example = schemaExample(schema);
  $("load-example").hidden = example === undefined;
  const remembered = store.get(templateKey());
  $("data").value = remembered?.data ?? JSON.stringify(example ?? {}, null, 2);
  // A version not rendered here yet starts from the keys another version of the template last used.
  showAssetRows(assetNames(html), remembered?.assets ?? store.get(`assets:${id}`) ?? {});
  return refresh();
}

function useSchemaExample() {
  const example = schemaExample(template.schema);
  if (example === undefined) return;
  $("data").value = JSON.stringify(example, null, 2);
  clearTimeout(debounce);
  refresh();
}

/** PDF finishing applies to PDFs only; the password's warning shows while one is typed. */
function syncPdfOptions() {
  $("pdf-options").hidden = $("format").value !== "pdf";
  $("password-warning").hidden = $("pdf-password").value === "";
}

for (const id of ["data", "width", "height"]) $(id).addEventListener("input", schedule);
for (const control of document.querySelectorAll(
  "#live-page input, #live-page textarea, #pdf-options input",
)) {
  control.addEventListener("input", () => {
    syncPdfOptions();
    schedule();
  });
}
for (const control of document.querySelectorAll("#media, #pdf-options select")) {
  control.addEventListener("change", schedule);
}
$("html").addEventListener("input", () => {
  syncInlineAssets();
  schedule();
});
$("format").addEventListener("change", () => {
  syncPdfOptions();
  schedule();
});
$("template").addEventListener("change", onTemplateChange);
$("load-example").addEventListener("click", useSchemaExample);
listKnownAssetKeys();
syncInlineAssets();
loadTemplates().finally(refresh);
