import { API_OPERATIONS, type ApiOperation } from "./operations.js";

/** What a request's path resolves to in the operation table. */
export interface RouteMatch {
  /** Every operation on the matched path. */
  readonly operations: readonly ApiOperation[];
  /** The one for the request's method; undefined answers 405. */
  readonly operation: ApiOperation | undefined;
  /** Path parameters as they appear in the path (still percent-encoded). */
  readonly params: Readonly<Record<string, string>>;
}

interface CompiledPath {
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
  readonly operations: readonly ApiOperation[];
}

/**
 * One pattern per path template: a `{name}` matches one segment, or the rest of the path when the
 * parameter may contain slashes; a trailing slash is ignored.
 */
function compile(operations: readonly ApiOperation[]): CompiledPath[] {
  const byPath = new Map<string, ApiOperation[]>();
  for (const op of operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op]);
  return [...byPath].map(([path, ops]) => {
    const paramNames: string[] = [];
    const source = path
      .split(/(\{[^}]+\})/)
      .map((part) => {
        const name = /^\{(.+)\}$/.exec(part)?.[1];
        if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        paramNames.push(name);
        return ops.some((op) => op.pathParams?.[name]?.mayContainSlashes) ? "(.+)" : "([^/]+)";
      })
      .join("");
    return { pattern: new RegExp(`^${source}/?$`), paramNames, operations: ops };
  });
}

const PATHS = compile(API_OPERATIONS);

/** The operation table's answer to a method and path; undefined when no path matches. */
export function matchRoute(method: string, path: string): RouteMatch | undefined {
  for (const { pattern, paramNames, operations } of PATHS) {
    const match = pattern.exec(path);
    if (!match) continue;
    return {
      operations,
      operation: operations.find((op) => op.method === method),
      params: Object.fromEntries(paramNames.map((name, i) => [name, match[i + 1] ?? ""])),
    };
  }
  return undefined;
}
