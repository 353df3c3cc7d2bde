/** Every Kiln function's definition, by the name the stack and the local stack give it. */
import { apiFunction } from "./api/function.js";
import { batchFanOutFunction } from "./batch-fanout/function.js";
import { reconcilerFunction } from "./reconciler/function.js";
import { renderWorkerFunction } from "./render-worker/function.js";
import { signAssetsFunction } from "./sign-assets/function.js";
import { webhookDispatcherFunction } from "./webhook-dispatcher/function.js";

export const FUNCTION_DEFINITIONS = {
  api: apiFunction,
  renderWorker: renderWorkerFunction,
  signAssets: signAssetsFunction,
  webhookDispatcher: webhookDispatcherFunction,
  batchFanOut: batchFanOutFunction,
  reconciler: reconcilerFunction,
} as const;

export type FunctionName = keyof typeof FUNCTION_DEFINITIONS;
