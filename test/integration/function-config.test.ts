/**
 * What runs locally is what deploys: the local stack (as `npm start` starts it) and the synthesized
 * template give each function the same configuration, apart from resource names and the settings the
 * local stack overrides visibly (functions/local/function-configs.ts), which are listed here by name.
 */
import type { CfnElement } from "aws-cdk-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_DEFINITIONS, type FunctionName } from "../../functions/handlers/definitions.js";
import type { FunctionDefinition } from "../../functions/handlers/function-definition.js";
import type { Cfn, Synthesized } from "../infra/support.js";
import { synthKiln } from "../infra/support.js";
import { startTestStack, type TestStack } from "./helpers/local-stack.js";

let local: TestStack;
let synth: Synthesized;

beforeAll(async () => {
  local = await startTestStack();
  synth = synthKiln({ stage: "prod" }, { bundling: false });
});

afterAll(async () => {
  await local?.stop();
  synth?.dispose();
});

/** The one thing the local stack sets apart from a deployment, per function, besides resources. */
const EXPECTED_LOCAL_OVERRIDES: Record<FunctionName, string[]> = {
  api: ["callbackSchemes", "callbackHosts"],
  renderWorker: ["retryBaseSeconds", "retryMaxSeconds"],
  signAssets: [],
  webhookDispatcher: ["callbackSchemes", "callbackHosts"],
  batchFanOut: ["checkEverySeconds"],
  reconciler: [],
};

function deployedEnvironment(name: FunctionName): Record<string, Cfn> {
  const { stack } = synth;
  const functions = {
    api: stack.api.function,
    renderWorker: stack.worker.function,
    signAssets: stack.signer.function,
    webhookDispatcher: stack.webhooks.function,
    batchFanOut: stack.batches.function,
    reconciler: stack.reconciler.function,
  };
  const id = stack.getLogicalId(functions[name].node.defaultChild as CfnElement);
  return synth.json.Resources[id].Properties.Environment.Variables;
}

describe.each(Object.keys(FUNCTION_DEFINITIONS) as FunctionName[])("%s", (name) => {
  const definition: FunctionDefinition = FUNCTION_DEFINITIONS[name];

  it("overrides locally only the settings it lists", () => {
    expect(local.stack.functions[name].overridden).toEqual(EXPECTED_LOCAL_OVERRIDES[name]);
  });

  it("runs with the deployed value of every other setting, and the template sets no variable it does not read", () => {
    const deployed = deployedEnvironment(name);
    const config = local.stack.functions[name].config as Record<string, unknown>;
    const overridden: string[] = EXPECTED_LOCAL_OVERRIDES[name];
    const read = new Set<string>();
    for (const [setting, { env, schema, resource }] of Object.entries(definition.settings)) {
      read.add(env);
      if (resource) {
        // A resource is named by CloudFormation there and by the stand-ins here; both must name one.
        expect({ [env]: env in deployed }).toEqual({ [env]: config[setting] !== undefined });
        continue;
      }
      if (overridden.includes(setting)) continue;
      const value = deployed[env];
      expect(typeof value === "string" || value === undefined, `${env} is a literal`).toBe(true);
      expect({ [env]: schema.parse(value) }).toEqual({ [env]: config[setting] });
    }
    const unread = Object.keys(deployed).filter((env) => env.startsWith("KILN_") && !read.has(env));
    expect(unread).toEqual([]);
  });
});
