import { Liquid } from "liquidjs";
import { PermanentRenderError } from "./errors.js";

/**
 * Liquid runs no template-supplied code and cannot reach the filesystem here (no `include`
 * root is configured); `outputEscape` HTML-escapes every `{{ }}` by default.
 */
const engine = new Liquid({
  outputEscape: "escape",
  strictFilters: true,
  ownPropertyOnly: true,
  relativeReference: false,
  root: [],
  partials: [],
  layouts: [],
  fs: {
    exists: async () => false,
    existsSync: () => false,
    readFile: async (file: string) => {
      throw new Error(`templates cannot include files (${file})`);
    },
    readFileSync: (file: string) => {
      throw new Error(`templates cannot include files (${file})`);
    },
    resolve: (_root: string, file: string) => file,
    contains: async () => false,
    sep: "/",
  },
});

export async function hydrate(html: string, data: Record<string, unknown>): Promise<string> {
  try {
    return await engine.parseAndRender(html, data);
  } catch (err) {
    throw new PermanentRenderError(
      "template_error",
      `template could not be rendered: ${(err as Error).message}`,
    );
  }
}
