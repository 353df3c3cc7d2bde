/**
 * Which functions can reach the webhook-secrets key, as their wiring and definitions say (the same
 * lists the CDK app grants from and the local stack wires): the api function and the dispatcher, and
 * no other. The render worker shares the jobs table, so a KMS client there would be a way to the secrets.
 */
import { describe, expect, it } from "vitest";
import { ENV } from "../../functions/core/constants.js";
import { apiClients } from "../../functions/handlers/api/wire.js";
import { batchFanOutClients } from "../../functions/handlers/batch-fanout/wire.js";
import { FUNCTION_DEFINITIONS } from "../../functions/handlers/definitions.js";
import { reconcilerClients } from "../../functions/handlers/reconciler/wire.js";
import { renderWorkerClients } from "../../functions/handlers/render-worker/wire.js";
import { signAssetsClients } from "../../functions/handlers/sign-assets/wire.js";
import { webhookDispatcherClients } from "../../functions/handlers/webhook-dispatcher/wire.js";

describe("access to the webhook-secrets key", () => {
  it("is wired with a KMS client into the api function and the dispatcher only", () => {
    const clients = {
      api: apiClients,
      renderWorker: renderWorkerClients,
      signAssets: signAssetsClients,
      webhookDispatcher: webhookDispatcherClients,
      batchFanOut: batchFanOutClients,
      reconciler: reconcilerClients,
    };
    // Every function is listed, so a new one is checked too.
    expect(Object.keys(clients).sort()).toEqual(Object.keys(FUNCTION_DEFINITIONS).sort());
    const withKms = Object.entries(clients)
      .filter(([, classes]) => "kms" in classes)
      .map(([name]) => name);
    expect(withKms).toEqual(["api", "webhookDispatcher"]);
  });

  it("is named in the configuration of those two functions only", () => {
    const naming = Object.entries(FUNCTION_DEFINITIONS)
      .filter(([, definition]) =>
        Object.values(definition.settings).some((s) => s.env === ENV.webhookSecretsKeyArn),
      )
      .map(([name]) => name);
    expect(naming).toEqual(["api", "webhookDispatcher"]);
  });
});
