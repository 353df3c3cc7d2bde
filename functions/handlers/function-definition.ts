/**
 * A Kiln function described once: its configuration (environment variables, types, defaults, help), the
 * message it consumes, its deployment defaults, and what its role may do. The Lambda entry reads its configuration with
 * `readConfig`, the local stack with `localConfig`, and lib/ derives the function's environment with
 * `environmentOf`, so a default lives in exactly one place: the setting's schema.
 *
 * A definition imports nothing but zod and core constants, so that lib/ can read it without loading
 * adapters; each function's `wire` (its adapters and handler) sits beside it in `wire.ts`.
 */
import type { z } from "zod";
import type { Permissions } from "./permissions.js";

/** One environment variable a function reads. */
export interface Setting<T extends z.ZodType = z.ZodType> {
  readonly env: string;
  /** Parses the variable's text; a `.default()` here is the only default the setting has. */
  readonly schema: T;
  /** What to set it to, as the sentence a failed start prints. */
  readonly help: string;
  /**
   * Names a resource of the deployment (a table, bucket, queue URL, function, key): lib/ passes the
   * resource's name and the local stack its stand-in's, so the two differ by design.
   */
  readonly resource: boolean;
}

export type Settings = Readonly<Record<string, Setting>>;

/** A tuning value; its schema's default is the value everywhere it is not passed visibly. */
export function setting<T extends z.ZodType>(env: string, schema: T, help: string): Setting<T> {
  return { env, schema, help, resource: false };
}

/** The name, URL or ARN of a resource of the deployment. */
export function resource<T extends z.ZodType>(env: string, schema: T, help: string): Setting<T> {
  return { env, schema, help, resource: true };
}

export interface EventSourceDefaults {
  /** Records per invocation. */
  readonly batchSize: number;
  /** Most invocations the event source runs at once. */
  readonly maxConcurrency: number;
}

export interface FunctionDefinition<S extends Settings = Settings> {
  /** The function's service name: Powertools' `service`, its metrics' dimension, local `function_name`. */
  readonly name: string;
  /** What the function does, shown in the Lambda console. */
  readonly description: string;
  /** The Lambda entry (exports `handler`), relative to the repository root. */
  readonly entry: string;
  /**
   * Modules bundled into files of their own beside the entry's, relative to the repository root, each
   * named `<name>.chunk.mts` and imported by the code as `./<name>.chunk.mjs` when it first needs
   * it: a cold start compiles only what it runs at once. Locally the import loads the source file.
   */
  readonly chunks?: readonly string[];
  readonly settings: S;
  /** What each SQS record's body carries, for functions fed by a queue. */
  readonly message?: z.ZodType;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** For functions fed by a queue: how the event source mapping hands it records. */
  readonly eventSource?: EventSourceDefaults;
  /**
   * Everything the function's role may do beyond writing its logs, by the setting that names each
   * resource (see permissions.ts): lib/ grants exactly this, and the receive side of `eventSource`.
   */
  readonly permissions: Permissions<keyof S & string>;
}

/** Chunks more than one function's code loads (see `FunctionDefinition.chunks`). */
export const SHARED_CHUNKS = {
  /** @cantoo/pdf-lib and fontkit: PDF finishing and merging. */
  pdfLibrary: "functions/adapters/pdf/pdf-library.chunk.mts",
} as const;

/** The parsed configuration of a definition, by setting name (`config.jobsTable`). */
export type ConfigOf<D extends Pick<FunctionDefinition, "settings">> = {
  readonly [K in keyof D["settings"]]: z.output<D["settings"][K]["schema"]>;
};

/** Values by setting name, as lib/ or the local stack pass them (numbers are written as text). */
export type ValuesOf<D extends FunctionDefinition> = {
  readonly [K in keyof D["settings"]]?: string | number | undefined;
};

/** `definition`, checked, with its literal types kept (settings by name, event source defaults). */
export function defineFunction<const D extends FunctionDefinition>(definition: D): D {
  return definition;
}

/**
 * Parses the function's configuration from an environment, once at start. A missing or malformed
 * variable stops start-up with one sentence per variable saying what to set, instead of failing later
 * mid-request. An empty variable counts as unset, so it falls back to its default.
 */
export function readConfig<D extends Pick<FunctionDefinition, "name" | "settings">>(
  definition: D,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfigOf<D> {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, { env: variable, schema, help }] of Object.entries(definition.settings)) {
    const raw = env[variable] === "" ? undefined : env[variable];
    const parsed = schema.safeParse(raw);
    if (parsed.success) {
      config[name] = parsed.data;
    } else {
      const state = raw === undefined ? "is not set" : `is invalid (${parsed.error.issues[0]?.message})`;
      problems.push(`${variable} ${state}: set it to ${help}.`);
    }
  }
  if (problems.length > 0) throw new Error(`${definition.name} cannot start. ${problems.join(" ")}`);
  return config as ConfigOf<D>;
}

/** The environment that `values` stand for: each value written as text under its variable's name. */
export function environmentFrom<D extends FunctionDefinition>(
  definition: D,
  values: ValuesOf<D>,
): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    const setting = definition.settings[name];
    if (!setting) throw new Error(`${definition.name} has no setting ${name}.`);
    if (value !== undefined) environment[setting.env] = String(value);
  }
  return environment;
}

/**
 * The Lambda environment lib/ gives a function: the values it passes (resource names, stack options)
 * and every other setting's default written out, so the template shows each value the function runs
 * with. A setting with neither (a resource lib/ forgot) fails the synth with the setting's name.
 */
export function environmentOf<D extends FunctionDefinition>(
  definition: D,
  values: ValuesOf<D>,
): Record<string, string> {
  const environment = environmentFrom(definition, values);
  for (const [name, { env, schema, resource }] of Object.entries(definition.settings)) {
    if (env in environment) continue;
    const fallback = schema.safeParse(undefined);
    if (!fallback.success && resource) {
      throw new Error(`${definition.name} needs ${env} (${name}): pass the resource it names.`);
    }
    if (fallback.success && fallback.data !== undefined) environment[env] = String(fallback.data);
  }
  return environment;
}

/** The configuration the local stack runs a function with: parsed from text exactly as on Lambda. */
export function localConfig<D extends FunctionDefinition>(definition: D, values: ValuesOf<D>): ConfigOf<D> {
  return readConfig(definition, environmentFrom(definition, values));
}
