import { KilnApiError } from "../functions/client/kiln-client.js";
import { assets } from "./commands/assets.js";
import { batch } from "./commands/batch.js";
import { bench } from "./commands/bench.js";
import { type Command, EXIT, InputError, UsageError } from "./commands/cli-support.js";
import { cost } from "./commands/cost.js";
import { redrive } from "./commands/redrive.js";
import { render } from "./commands/render.js";
import { status } from "./commands/status.js";
import { templates } from "./commands/templates.js";
import { tenants } from "./commands/tenants.js";

/** Every `kiln` command, by name. */
const COMMANDS: Record<string, Command> = {
  render,
  batch,
  status,
  templates,
  assets,
  bench,
  cost,
  redrive,
  tenants,
};

const EXIT_CODES =
  "Exit codes: 0 done, 1 the job failed, 2 usage or input error, 3 Kiln could not be reached or broke,\n" +
  "4 the job is still queued or rendering (kiln status).";

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: kiln <command> [options]   (kiln <command> --help for its options)\n\n${lines.join("\n")}\n\n${EXIT_CODES}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${overview()}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`Usage: ${command.usage}\n\n${EXIT_CODES}\n`);
    return EXIT.ok;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`kiln: ${(err as Error).message}\n\n${overview()}\n`);
      process.exit(EXIT.usage);
    }
    if (err instanceof InputError) {
      process.stderr.write(`kiln: ${err.message}\n`);
      process.exit(EXIT.usage);
    }
    if (err instanceof KilnApiError && err.status >= 400 && err.status < 500) {
      process.stderr.write(`kiln: the API refused the request: ${err.message}\n`);
      const fields =
        (err.body as { error?: { fields?: Array<{ field: string; message: string }> } })?.error?.fields ?? [];
      for (const f of fields) process.stderr.write(`  ${f.field || "(body)"}: ${f.message}\n`);
      process.exit(EXIT.usage);
    }
    process.stderr.write(`kiln: ${(err as Error).message}\n`);
    process.exit(EXIT.infra);
  },
);
