import { z } from "zod";

/**
 * Reads configuration from the environment once at start. A missing or malformed variable stops
 * start-up with one sentence per variable saying what to set, instead of failing later mid-request.
 */
export function readEnv<S extends Record<string, z.ZodType>>(
  shape: S,
  options: { hints?: Partial<Record<keyof S, string>>; env?: NodeJS.ProcessEnv; component?: string } = {},
): z.output<z.ZodObject<S>> {
  const env = options.env ?? process.env;
  // An empty variable counts as unset, so optional ones fall back to their defaults.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const result = z.object(shape).safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const state = present[name] === undefined ? "is not set" : `is invalid (${issue.message})`;
    const hint = options.hints?.[name as keyof S];
    return `${name} ${state}: set it to ${hint ?? "a valid value"}.`;
  });
  throw new Error(`${options.component ?? "Kiln"} cannot start. ${problems.join(" ")}`);
}
