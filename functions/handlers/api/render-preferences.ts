import type { APIGatewayProxyEvent } from "aws-lambda";
import { CONTENT_TYPES } from "../../core/render-request.js";
import { parseWaitSeconds } from "../../core/render-wait.js";
import { header } from "./request.js";

/**
 * What a caller of the render routes prefers: how long to wait for the job (`Prefer: wait=N`, or
 * `?wait=N` on GET) and whether it wants the output itself (`Accept: image/png`) or the job as JSON.
 */

/** Seconds of `wait` in the `Prefer` header (RFC 7240), capped; else undefined. Other preferences are ignored. */
export function preferredWait(prefer: string | undefined): number | undefined {
  for (const preference of (prefer ?? "").split(",")) {
    const [token = ""] = preference.split(";");
    const equals = token.indexOf("=");
    const name = (equals < 0 ? token : token.slice(0, equals)).trim().toLowerCase();
    if (name !== "wait") continue;
    const value = equals < 0 ? "" : token.slice(equals + 1).trim();
    return parseWaitSeconds(value.replace(/^"(.*)"$/, "$1"), "Prefer");
  }
  return undefined;
}

/** Seconds a request may wait (capped): the `wait` query parameter when `query` allows one, else `Prefer`. */
export function requestedWait(event: APIGatewayProxyEvent, query: boolean): number | undefined {
  const fromQuery = query ? event.queryStringParameters?.wait : undefined;
  if (fromQuery !== undefined && fromQuery !== null) return parseWaitSeconds(fromQuery, "wait");
  return preferredWait(header(event, "prefer"));
}

/** Headers of an answer that honoured a wait: the wait as applied (capped). */
export function waitApplied(waitSeconds: number | undefined): Record<string, string> {
  return waitSeconds === undefined ? {} : { "preference-applied": `wait=${waitSeconds}` };
}

export type Representation =
  /** The job view as JSON, as without an Accept header. */
  | { readonly kind: "json" }
  /** The output itself: a 303 to its signed URL once the job has succeeded. */
  | { readonly kind: "output" }
  /** Accept names only output types this job does not make. */
  | { readonly kind: "not_acceptable"; readonly accept: string };

const JSON_TYPE = "application/json";
const OUTPUT_TYPES = [...new Set(Object.values(CONTENT_TYPES))];

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of accept.split(",")) {
    const [type = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (!/^[\w.+*-]+\/[\w.+*-]+$/.test(type)) continue;
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    ranges.push({ type, q: Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 1 });
  }
  return ranges;
}

/** The q of `mediaType` under the most specific range that matches it (exact, its type's, any); 0 if none. */
function qualityOf(ranges: readonly MediaRange[], mediaType: string): number {
  const [major] = mediaType.split("/");
  for (const candidate of [mediaType, `${major}/*`, "*/*"]) {
    const matching = ranges.filter((r) => r.type === candidate);
    if (matching.length) return Math.max(...matching.map((r) => r.q));
  }
  return 0;
}

/**
 * JSON or the output, by the Accept header and the job's output type (`undefined` while that is not
 * known: any output type counts). The output only when it is preferred over JSON (so any-type is JSON); an
 * Accept that names neither JSON nor any type Kiln renders is answered as before, with JSON.
 */
export function chooseRepresentation(accept: string | undefined, outputType?: string): Representation {
  if (!accept?.trim()) return { kind: "json" };
  const ranges = parseAccept(accept);
  const json = qualityOf(ranges, JSON_TYPE);
  const candidates = outputType ? [outputType] : OUTPUT_TYPES;
  const output = Math.max(...candidates.map((type) => qualityOf(ranges, type)));
  if (output > json) return { kind: "output" };
  if (json > 0) return { kind: "json" };
  const namesAnOutput = OUTPUT_TYPES.some((type) => qualityOf(ranges, type) > 0);
  return namesAnOutput ? { kind: "not_acceptable", accept: accept.trim() } : { kind: "json" };
}
