import { type ReconcileDeps, type ReconcileSummary, reconcile } from "../../core/reconcile.js";

/**
 * EventBridge schedule (or the local stack's timer) → one reconciler run. The event carries nothing
 * the run needs; a run that throws (the table unreachable) is retried by the next schedule.
 */
export function makeHandler(deps: ReconcileDeps) {
  return async function reconcilerHandler(_event?: unknown): Promise<ReconcileSummary> {
    return reconcile(deps);
  };
}
