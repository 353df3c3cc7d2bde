import { describe, expect, it } from "vitest";
import { type DataSchema, validateData } from "../../functions/core/json-schema.js";

/** The issues in field order: the order Ajv reports them in is not part of the contract. */
const issues = (schema: DataSchema, data: unknown) =>
  validateData(schema, data).sort((a, b) => a.field.localeCompare(b.field));

describe("data schemas of each draft", () => {
  // Each draft's validator is built when first needed; these use them in turn, each with a keyword
  // the other drafts do not know (and would ignore), and each with a format.
  it("validates 2020-12 (also without $schema) with prefixItems and formats", () => {
    const schema = {
      type: "object",
      properties: {
        pair: { type: "array", prefixItems: [{ type: "string" }, { type: "integer" }] },
        due: { type: "string", format: "date" },
      },
    };
    const bad = { pair: [1, "x"], due: "31/12/2026" };
    const expected = [
      { field: "data.due", message: 'must match format "date"' },
      { field: "data.pair.0", message: "must be string" },
      { field: "data.pair.1", message: "must be integer" },
    ];
    expect(issues(schema, bad)).toEqual(expected);
    expect(issues({ $schema: "https://json-schema.org/draft/2020-12/schema", ...schema }, bad)).toEqual(
      expected,
    );
    expect(issues(schema, { pair: ["a", 1], due: "2026-12-31" })).toEqual([]);
  });

  it("validates 2019-09 with dependentRequired and formats", () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2019-09/schema",
      type: "object",
      properties: { email: { type: "string", format: "email" } },
      dependentRequired: { vatId: ["country"] },
    };
    expect(issues(schema, { vatId: "X1", email: "nobody" })).toEqual([
      { field: "data", message: "must have property country when property vatId is present" },
      { field: "data.email", message: 'must match format "email"' },
    ]);
    expect(issues(schema, { vatId: "X1", country: "DE", email: "a@example.com" })).toEqual([]);
  });

  it("validates draft-07 with dependencies and formats", () => {
    const schema = {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      properties: { at: { type: "string", format: "date-time" } },
      dependencies: { vatId: ["country"] },
    };
    expect(issues(schema, { vatId: "X1", at: "noon" })).toEqual([
      { field: "data", message: "must have property country when property vatId is present" },
      { field: "data.at", message: 'must match format "date-time"' },
    ]);
    expect(issues(schema, { vatId: "X1", country: "DE", at: "2026-12-31T12:00:00Z" })).toEqual([]);
  });
});
