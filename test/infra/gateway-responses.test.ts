import { randomUUID } from "node:crypto";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_OPERATIONS, gatewayPath } from "../../functions/handlers/api/operations.js";
import { type Cfn, resources, type Synthesized, synthKiln } from "./support.js";

/**
 * API Gateway renders a gateway response's template by simple variable substitution (it is not VTL:
 * no #set, no $util), so a variable's value lands in the body as it is. This renders the synthesized
 * templates the same way and checks that every body is JSON whatever the variables hold.
 */
const REFERENCE = /\$(?:\{([A-Za-z][\w.-]*)\}|([A-Za-z][\w]*(?:\.[A-Za-z][\w-]*)*))/g;

function variablesOf(template: string): string[] {
  return [...template.matchAll(REFERENCE)].map((m) => (m[1] ?? m[2]) as string);
}

function render(template: string, values: (variable: string) => string): string {
  return template.replace(REFERENCE, (_, braced, plain) => values((braced ?? plain) as string));
}

/** Messages an attacker or API Gateway's validator could put in a free-text variable. */
const HOSTILE = [
  'instance failed to match: object has missing required properties (["template"])',
  'a "quoted" word',
  'a back\\slash and a \\" quote',
  "line one\nline two\r\n\ttabbed",
  "it's a single quote",
  "unicode: é 漢字 😀 \u2028 \u2029",
  "nul \u0000 and bell \u0007",
  '}], "injected": true, "x": [{',
  "$context.requestId $" + "{stageVariables.x} #set($a = 1)",
];

/**
 * Variables whose every value is safe inside a JSON string, with the values API Gateway gives them:
 * our own methods and resource paths, request ids (UUIDs), and its response type names.
 */
const SAFE_VALUES: Readonly<Record<string, readonly string[]>> = {
  "context.httpMethod": [...new Set(API_OPERATIONS.map((op) => op.method)), "OPTIONS", "HEAD"],
  "context.resourcePath": ["/", ...API_OPERATIONS.map((op) => gatewayPath(op))],
  "context.requestId": [randomUUID()],
  "context.error.responseType": Object.values(apigateway.ResponseType).map((t) => t.responseType),
};

let synth: Synthesized;
let templates: Array<{ type: string; template: string }>;

beforeAll(() => {
  synth = synthKiln({}, { bundling: false });
  templates = resources(synth.json, "AWS::ApiGateway::GatewayResponse").map((r: { properties: Cfn }) => ({
    type: r.properties.ResponseType as string,
    template: r.properties.ResponseTemplates["application/json"] as string,
  }));
});

afterAll(() => synth?.dispose());

describe("gateway responses", () => {
  it("has a JSON template for every response type Kiln customises", () => {
    expect(templates.map((t) => t.type).sort()).toEqual(
      [
        "BAD_REQUEST_BODY",
        "BAD_REQUEST_PARAMETERS",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "INVALID_API_KEY",
        "MISSING_AUTHENTICATION_TOKEN",
        "QUOTA_EXCEEDED",
        "REQUEST_TOO_LARGE",
        "THROTTLED",
      ].sort(),
    );
    for (const { template } of templates) expect(typeof template).toBe("string");
  });

  it("uses no variable whose value is free text", () => {
    for (const { type, template } of templates) {
      for (const variable of variablesOf(template)) {
        expect(Object.keys(SAFE_VALUES), `${type} uses $${variable}`).toContain(variable);
      }
    }
  });

  it("renders valid JSON in Kiln's error shape whatever every variable holds", () => {
    for (const { type, template } of templates) {
      const variables = variablesOf(template);
      // Every combination of a safe variable's values, and hostile text in any other variable.
      const runs = [
        ...HOSTILE.map((text) => (v: string) => SAFE_VALUES[v]?.[0] ?? text),
        ...Object.entries(SAFE_VALUES).flatMap(([name, values]) =>
          values.map(
            (value) => (v: string) => (v === name ? value : (SAFE_VALUES[v]?.[0] ?? HOSTILE[0] ?? "")),
          ),
        ),
      ];
      for (const values of runs) {
        const body = render(template, values);
        let parsed: Cfn;
        expect(() => {
          parsed = JSON.parse(body);
        }, `${type}: ${body}`).not.toThrow();
        expect(Object.keys(parsed)).toEqual(["error"]);
        expect(parsed.error.code).toMatch(/^[a-z_]+$/);
        expect(typeof parsed.error.message).toBe("string");
        for (const variable of variables) {
          const value = values(variable);
          expect(parsed.error.message, type).toContain(value);
        }
      }
    }
  });

  it("names the refused operation in a validation failure", () => {
    const template = templates.find((t) => t.type === "BAD_REQUEST_BODY")?.template ?? "";
    const body = JSON.parse(
      render(
        template,
        (v) => ({ "context.httpMethod": "POST", "context.resourcePath": "/v1/renders" })[v] ?? "",
      ),
    );
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toContain("POST /v1/renders");
    expect(body.error.message).toContain("GET /openapi.json");
  });

  it("would catch a free-text variable inside a JSON string (the renderer is not lenient)", () => {
    const previous = '{"error":{"code":"invalid_request","message":"$context.error.validationErrorString"}}';
    expect(variablesOf(previous)).toEqual(["context.error.validationErrorString"]);
    expect(() => JSON.parse(render(previous, () => HOSTILE[0] ?? ""))).toThrow(SyntaxError);
  });
});
