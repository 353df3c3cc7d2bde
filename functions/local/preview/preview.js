// The Kiln preview page: every edit renders through the normal API (POST /v1/renders, then
// GET /v1/renders/{id} until the job ends), so what it shows is what the API gives.

const DEBOUNCE_MS = 400;
const POLL_MS = 150;
const apiKey = document.querySelector('meta[name="kiln-api-key"]')?.getAttribute("content") ?? "";
const $ = (id) => document.getElementById(id);
const ERROR_BOXES = ["template-error", "data-error", "output-error", "result-error"];

/** Bumped by every refresh: an answer for an older generation is dropped, never shown. */
let generation = 0;
let inFlight;
let debounce;

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

async function api(method, path, body, signal) {
  const res = await fetch(path, {
    method,
    signal,
    headers: { "x-api-key": apiKey, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
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

function renderRequest(data) {
  const stored = $("template").value;
  const template = stored ? JSON.parse(stored) : { html: $("html").value };
  return {
    template,
    data,
    output: {
      format: $("format").value,
      width: Number($("width").value),
      height: Number($("height").value),
    },
  };
}

/** A 4xx's fields, each shown next to the control it names. */
function showApiError(body) {
  const error = body?.error ?? {};
  const fields = Array.isArray(error.fields) ? error.fields : [];
  if (fields.length === 0) {
    showError("result-error", `${error.code ?? "error"}: ${error.message ?? "the request was refused"}`);
    return;
  }
  const byBox = new Map();
  for (const { field, message } of fields) {
    const name = String(field ?? "");
    const box = name.startsWith("data")
      ? "data-error"
      : name.startsWith("output")
        ? "output-error"
        : name.startsWith("template")
          ? "template-error"
          : "result-error";
    byBox.set(box, [...(byBox.get(box) ?? []), `${name || "(request)"}: ${message}`]);
  }
  for (const [box, lines] of byBox) showError(box, lines.join("\n"));
  if (byBox.has("data-error")) $("data").setAttribute("aria-invalid", "true");
}

function showOutput(job) {
  const { url, contentType, bytes, sha256 } = job.output;
  const pdf = contentType === "application/pdf";
  const image = $("image");
  const frame = $("pdf");
  image.hidden = pdf;
  frame.hidden = !pdf;
  if (pdf) frame.src = url;
  else {
    image.src = url;
    image.dataset.sha256 = sha256;
  }
  // Created with the first output: until then there is nothing to link to.
  let download = $("download");
  if (!download) {
    download = document.createElement("a");
    download.id = "download";
    download.target = "_blank";
    download.rel = "noopener";
    document.querySelector(".toolbar").prepend(download);
  }
  download.href = url;
  download.textContent = `Download ${contentType.split("/")[1].toUpperCase()} (${Math.ceil(bytes / 1024)} KB)`;
  $("meta").textContent = `sha256 ${sha256.slice(0, 12)}…`;
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

  clearErrors();
  const data = readData();
  if (data.error) {
    showError("data-error", data.error);
    $("data").setAttribute("aria-invalid", "true");
    setStatus("waiting for valid JSON");
    return;
  }
  const canvas = document.querySelector(".canvas");
  canvas.classList.add("stale");
  setStatus("rendering…");
  const started = performance.now();
  try {
    const submitted = await api("POST", "/v1/renders", renderRequest(data.value), signal);
    if (!current()) return;
    if (!submitted.ok) {
      showApiError(submitted.body);
      setStatus(`refused (${submitted.status})`);
      return;
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
        setStatus(`lost the job (${polled.status})`);
        return;
      }
      job = polled.body;
    }
    if (!current()) return;
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    if (job.status === "failed") {
      showError("result-error", `The render failed: ${job.error?.code}: ${job.error?.message}`);
      setStatus(`failed after ${seconds} s`);
      return;
    }
    showOutput(job);
    canvas.classList.remove("stale");
    setStatus(`rendered in ${seconds} s (job ${job.id})`);
  } catch (err) {
    if (!current()) return;
    showError("result-error", `Kiln could not be reached: ${err.message}`);
    setStatus("unreachable");
  }
}

function schedule() {
  clearTimeout(debounce);
  debounce = setTimeout(refresh, DEBOUNCE_MS);
}

async function loadTemplates() {
  const listed = await api("GET", "/v1/templates").catch(() => undefined);
  if (!listed?.ok) return;
  const select = $("template");
  for (const t of listed.body.templates ?? []) {
    const option = document.createElement("option");
    option.value = JSON.stringify({ id: t.id, version: t.version });
    option.textContent = `${t.id} @ ${t.version}${t.hasSchema ? " (with schema)" : ""}`;
    select.append(option);
  }
}

function onTemplateChange() {
  $("inline-html").hidden = $("template").value !== "";
  schedule();
}

for (const id of ["html", "data", "width", "height"]) $(id).addEventListener("input", schedule);
$("format").addEventListener("change", schedule);
$("template").addEventListener("change", onTemplateChange);
loadTemplates().finally(refresh);
