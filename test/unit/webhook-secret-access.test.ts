/**
 * Which functions can reach the webhook-secrets key, as their wiring and definitions say (the same
 * lists the CDK app grants from and the local stack wires): the api function and the dispatcher, and
 * no other. The render worker shares the jobs table, so a grant on that key would be a way to the
 * secrets: its KMS client decrypts URL jobs' headers and cookies, with the page-secrets key only.
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
  it("is declared by the api function and the dispatcher only; the worker's KMS client has the page-secrets key alone", () => {
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
    expect(withKms).toEqual(["api", "renderWorker", "webhookDispatcher"]);
    const declaring = Object.entries(FUNCTION_DEFINITIONS)
      .filter(([, definition]) => "webhookSecretsKey" in definition.permissions)
      .map(([name]) => name);
    expect(declaring).toEqual(["api", "webhookDispatcher"]);
    expect(FUNCTION_DEFINITIONS.renderWorker.permissions).toMatchObject({
      pageSecretsKey: {
        service: "kms",
        actions: ["kms:Decrypt"],
        encryptionContextKeys: ["pageSecretsTenant"],
      },
    });
    expect(
      Object.values(FUNCTION_DEFINITIONS.renderWorker.permissions).filter(
        (access) => access?.service === "kms",
      ),
    ).toHaveLength(1);
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
