import { z } from "zod";

/**
 * Rules a request schema checks in code (refinements: one field or another, a field that needs
 * another), stated again in JSON Schema for the OpenAPI document, so that a client validating against
 * GET /openapi.json refuses what the API refuses. The api function checks them itself, and its 400
 * names the field.
 */
export const jsonSchemaRules = z.registry<Record<string, unknown>, z.core.$ZodType>();

/** JSON Schema: `field` is present (and, when given, has value `value`). */
export function present(field: string, value?: unknown): Record<string, unknown> {
  return value === undefined
    ? { required: [field] }
    : { required: [field], properties: { [field]: { const: value } } };
}

/** JSON Schema: when `condition` holds, so must `consequence`. */
export function implies(
  condition: Record<string, unknown>,
  consequence: Record<string, unknown>,
): Record<string, unknown> {
  return { anyOf: [{ not: condition }, consequence] };
}
