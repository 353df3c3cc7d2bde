/**
 * Renders docs/configuration.md from the function definitions: `npm run docs:config`. A unit test fails
 * when the committed file differs from what this renders.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { FUNCTION_DEFINITIONS } from "../../functions/handlers/definitions.js";
import type { FunctionDefinition } from "../../functions/handlers/function-definition.js";

export const CONFIGURATION_REFERENCE_PATH = fileURLToPath(
  new URL("../../docs/configuration.md", import.meta.url),
);

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function defaultOf(schema: FunctionDefinition["settings"][string]["schema"]): string {
  const parsed = schema.safeParse(undefined);
  if (!parsed.success) return "required";
  return parsed.data === undefined ? "unset" : `\`${String(parsed.data)}\``;
}

type JsonObject = {
  properties?: Record<string, { const?: unknown }>;
  required?: string[];
  oneOf?: JsonObject[];
};

/** A message's fields as `{tenant, jobId, correlationId?}`; a union as its members joined by "or". */
function messageShape(message: z.ZodType): string {
  const shape = (schema: JsonObject): string => {
    const required = new Set(schema.required ?? []);
    const fields = Object.entries(schema.properties ?? {}).map(([name, field]) =>
      field.const !== undefined
        ? `${name}: ${JSON.stringify(field.const)}`
        : required.has(name)
          ? name
          : `${name}?`,
    );
    return `\`{${fields.join(", ")}}\``;
  };
  const schema = z.toJSONSchema(message) as JsonObject;
  return schema.oneOf ? schema.oneOf.map(shape).join(" or ") : shape(schema);
}

function definitionFile(definition: FunctionDefinition): string {
  return definition.entry.replace(/index\.ts$/, "function.ts");
}

export function renderConfigurationReference(): string {
  const out = [
    "# Function configuration",
    "",
    "<!-- Generated from the function definitions by `npm run docs:config`; edit functions/handlers/<function>/function.ts, not this file. -->",
    "",
    "Each Kiln function is described once, in its definition: its environment variables (type, default,",
    "what to set), the message it consumes, its memory, timeout and event source. The Lambda entry reads",
    "its configuration from the definition, `lib/` writes every variable into the function's environment",
    "(defaults included, so the template shows each value the function runs with), and the local stack",
    "parses the same variables from the same text (`functions/local/function-configs.ts` lists what it sets",
    "apart from a deployment). A missing or malformed variable stops the function's start with a sentence",
    "naming it.",
    "",
    "_Resource_ variables name a table, bucket, queue, function or key of the deployment: the stack passes",
    "them and the local stack passes its stand-ins'.",
    "",
  ];
  for (const definition of Object.values(FUNCTION_DEFINITIONS) as FunctionDefinition[]) {
    out.push(`## ${definition.name}`, "");
    out.push(`${definition.description.replace(/^Kiln: /, "")}.`, "");
    const feeds = definition.eventSource
      ? `; fed by SQS, ${definition.eventSource.batchSize} records per invocation, at most ${definition.eventSource.maxConcurrency} at once`
      : "";
    out.push(
      `Defined in \`${definitionFile(definition)}\`, wired in \`${definition.entry.replace(/index\.ts$/, "wire.ts")}\`. ${definition.memorySize} MB, ${definition.timeoutSeconds} s${feeds}.`,
      "",
    );
    if (definition.message) {
      out.push(`Each SQS record's body is JSON: ${messageShape(definition.message)}.`, "");
    }
    out.push("| variable | kind | default | value |", "| --- | --- | --- | --- |");
    for (const { env, schema, help, resource } of Object.values(definition.settings)) {
      out.push(
        `| \`${env}\` | ${resource ? "resource" : "setting"} | ${defaultOf(schema)} | ${cell(help)} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(CONFIGURATION_REFERENCE_PATH, renderConfigurationReference());
  process.stdout.write(`wrote ${CONFIGURATION_REFERENCE_PATH}\n`);
}
