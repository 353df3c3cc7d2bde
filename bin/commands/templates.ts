import { parseArgs } from "node:util";
import { type Command, EXIT, readInputFile, readJsonFile, UsageError } from "./cli-support.js";
import { CONNECTION_OPTIONS, withKiln } from "./connect.js";

export const templates: Command = {
  summary: "store a template version (kiln templates push <id> <file.html>) or list templates and versions",
  usage: `kiln templates push <id> <file.html> [--schema schema.json] [--pdf-metadata metadata.json] [--javascript] [--api URL] [--api-key KEY]
kiln templates list [<id>] [--api URL] [--api-key KEY]

push (or put) stores the file as the next version of template <id> (POST /v1/templates) and prints
its number; uploading the latest version's content again changes nothing. Jobs render an exact
version: {"template": {"id": "<id>", "version": N}}. With --schema, the data of every render of
that version is validated against the JSON Schema before it is queued; with --javascript, the
version's own scripts run when it renders (off otherwise); --pdf-metadata gives the PDF metadata
(title, author, subject, keywords, creator, producer, language) of every PDF rendered from it, under
a job's own output.pdf.metadata.
list without an id lists the tenant's templates at their latest version; with one, its versions.
Without --api (or $KILN_API_URL), an embedded local stack is used (data in $KILN_DATA_DIR, default .kiln).`,

  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...CONNECTION_OPTIONS,
        schema: { type: "string" },
        "pdf-metadata": { type: "string" },
        javascript: { type: "boolean" },
      },
    });
    const [action, id, file, ...rest] = positionals;
    if (action === "list" && !id) {
      const all = await withKiln(values, (client) => client.listTemplates());
      for (const t of all) {
        process.stdout.write(
          `${t.id}@${t.version}  ${t.createdAt}  ${t.bytes} bytes${t.hasSchema ? "  schema" : ""}\n`,
        );
      }
      return EXIT.ok;
    }
    if (action === "list" && id && !file) {
      const found = await withKiln(values, (client) => client.getTemplate(id));
      for (const v of found.versions) {
        process.stdout.write(
          `${id}@${v.version}  ${v.createdAt}  ${v.bytes} bytes${v.hasSchema ? "  schema" : ""}\n`,
        );
      }
      return EXIT.ok;
    }
    if ((action !== "push" && action !== "put") || !id || !file || rest.length > 0) {
      throw new UsageError(
        "expected: kiln templates push <id> <file.html> [--schema schema.json] | kiln templates list [<id>]",
      );
    }
    const html = await readInputFile(file);
    // The API checks that they are a JSON Schema and PDF metadata, and names what is wrong.
    const readJson = async (path: string | undefined) =>
      path ? ((await readJsonFile(path)) as Record<string, unknown>) : undefined;
    const schema = await readJson(values.schema);
    const pdfMetadata = await readJson(values["pdf-metadata"]);
    const stored = await withKiln(values, (client) =>
      client.createTemplate({
        id,
        html,
        ...(schema ? { schema } : {}),
        ...(pdfMetadata ? { pdfMetadata } : {}),
        ...(values.javascript ? { javascript: true } : {}),
      }),
    );
    process.stdout.write(
      `${stored.id}@${stored.version} ${stored.created ? "created" : "unchanged (same as the latest)"}\n`,
    );
    return EXIT.ok;
  },
};
