import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import {
  CONFIGURATION_REFERENCE_PATH,
  renderConfigurationReference,
} from "../../bin/docs/configuration-reference.js";
import { FUNCTION_DEFINITIONS } from "../../functions/handlers/definitions.js";

describe("docs/configuration.md", () => {
  it("is what the function definitions render", async () => {
    // On a difference: run `npm run docs:config` and commit docs/configuration.md.
    expect(await readFile(CONFIGURATION_REFERENCE_PATH, "utf8")).toBe(renderConfigurationReference());
  });

  it("lists every variable of every function with its default", () => {
    const reference = renderConfigurationReference();
    for (const definition of Object.values(FUNCTION_DEFINITIONS)) {
      for (const { env } of Object.values(definition.settings)) {
        expect(reference).toContain(`| \`${env}\` |`);
      }
    }
    expect(reference).toContain("| `KILN_RENDERS_PER_BROWSER` | setting | `500` |");
    expect(reference).toContain("| `KILN_JOBS_TABLE` | resource | required |");
  });
});
