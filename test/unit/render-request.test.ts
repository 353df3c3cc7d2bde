import { describe, expect, it } from "vitest";
import { ValidationError } from "../../functions/core/errors.js";
import {
  LIMITS,
  parseOrThrow,
  RenderRequestSchema,
  RenderSubmissionSchema,
} from "../../functions/core/render-request.js";

const valid = {
  template: { html: "<p>{{ x }}</p>" },
  data: { x: 1 },
  output: { format: "png", width: 300, height: 200 },
};

/** As POST /v1/renders checks a body: the request with its refinements (a template or a source). */
function fieldsOf(input: unknown): string[] {
  try {
    parseOrThrow(RenderSubmissionSchema, input);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues.map((i) => i.field);
  }
  throw new Error("expected a ValidationError");
}

describe("render request schema", () => {
  it("accepts a minimal job and fills defaults", () => {
    const parsed = parseOrThrow(RenderRequestSchema, {
      template: { html: "<p>x</p>" },
      output: { format: "pdf" },
    });
    expect(parsed.data).toEqual({});
    expect(parsed.output).toMatchObject({ format: "pdf", width: 1200, height: 800, scale: 1 });
  });

  it("names unknown fields one by one, at any depth", () => {
    expect(fieldsOf({ ...valid, colour: "red" })).toEqual(["colour"]);
    expect(fieldsOf({ ...valid, output: { ...valid.output, colour: "red" } })).toEqual(["output.colour"]);
  });

  it("names missing and wrongly typed fields", () => {
    expect(fieldsOf({ output: valid.output })).toEqual(["template"]);
    expect(fieldsOf({ ...valid, output: { format: "gif" } })).toEqual(["output.format"]);
    expect(fieldsOf({ ...valid, output: { ...valid.output, width: "300" } })).toEqual(["output.width"]);
    expect(fieldsOf({ ...valid, output: { ...valid.output, width: 1.5 } })).toEqual(["output.width"]);
    expect(fieldsOf({ ...valid, data: [1, 2] })).toEqual(["data"]);
    expect(fieldsOf([])).toEqual([""]);
  });

  it("says which type a wrongly typed field expects and what came, and 'required' only when it is missing", () => {
    const messages = (input: unknown) => {
      try {
        parseOrThrow(RenderRequestSchema, input);
      } catch (err) {
        return (err as ValidationError).message;
      }
      throw new Error("expected a ValidationError");
    };
    expect(messages({ ...valid, template: { html: 42 } })).toBe(
      "template.html: expected a string, got number",
    );
    expect(messages({ ...valid, output: { ...valid.output, width: "800" } })).toBe(
      "output.width: expected a number, got string",
    );
    expect(messages({ ...valid, data: "hi" })).toBe("data: expected an object, got string");
    expect(messages({ ...valid, data: null })).toBe("data: expected an object, got null");
    expect(messages({ template: valid.template, data: valid.data })).toBe("output: required (object)");
    expect(
      messages({
        ...valid,
        output: { format: "pdf", pdf: { pageSize: 5, margin: { top: "0", left: "5" } } },
      }),
    ).toBe(
      'output.pdf.pageSize: expected a string or an object, got number; output.pdf.margin.left: must be a length such as "16mm", "1in", "2.5cm", "40px" or "0"',
    );
  });

  it("refuses include, render and layout at submission (Kiln has no partials), naming template.html and the line", () => {
    const refusal = (html: string) => {
      try {
        parseOrThrow(RenderSubmissionSchema, { ...valid, template: { html } });
      } catch (err) {
        return (err as ValidationError).message;
      }
      throw new Error("expected a ValidationError");
    };
    expect(refusal("<h1>x</h1>\n{% if a %}\n  {% include 'footer' %}{% endif %}")).toBe(
      "template.html: is not a valid Liquid template: {% include %} is not available: Kiln templates have no partials or layouts (line 3, column 3)",
    );
    expect(refusal("{% render 'card', x: 1 %}")).toMatch(
      /^template\.html: .*\{% render %\} is not available.*\(line 1, column 1\)$/,
    );
    expect(refusal("a\n{%- layout 'base' -%}")).toMatch(
      /^template\.html: .*\{% layout %\} is not available.*\(line 2, column 1\)$/,
    );
  });

  it("accepts quality only for lossy formats", () => {
    expect(fieldsOf({ ...valid, output: { ...valid.output, quality: 80 } })).toEqual(["output.quality"]);
    expect(
      parseOrThrow(RenderRequestSchema, { ...valid, output: { format: "webp", quality: 80 } }).output.quality,
    ).toBe(80);
  });

  it("bounds dimensions, scale, pixels and HTML size", () => {
    expect(fieldsOf({ ...valid, output: { ...valid.output, width: LIMITS.maxDimension + 1 } })).toEqual([
      "output.width",
    ]);
    expect(fieldsOf({ ...valid, output: { ...valid.output, scale: 5 } })).toEqual(["output.scale"]);
    expect(fieldsOf({ ...valid, output: { format: "png", width: 4096, height: 4096, scale: 2 } })).toEqual([
      "output.width",
    ]);
    expect(fieldsOf({ ...valid, template: { html: "x".repeat(LIMITS.htmlBytes + 1) } })).toEqual([
      "template.html",
    ]);
  });
});
