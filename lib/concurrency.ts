/**
 * How Kiln's functions share the account's Lambda concurrency, so that a spike of renders cannot starve
 * the API or the rest of the account. The api and the signer have reserved concurrency (a spike of
 * renders cannot take it from them), the reconciler one, and the render worker gets what is left of the
 * account's quota once the reservations, the other queue-fed functions' maxima and the unreserved
 * concurrency AWS keeps for everything else are set aside. Checked at synth, with a sentence saying
 * what to set when the quota is too small.
 */

/** AWS refuses reservations that leave less than this unreserved in the account and region. */
export const LAMBDA_UNRESERVED_MINIMUM = 100;

/** The default concurrent-executions quota of an AWS account; new accounts may have less. */
export const DEFAULT_ACCOUNT_CONCURRENCY = 1000;

/** An SQS event source mapping's maximum concurrency may be 2–1000. */
const EVENT_SOURCE_MAX = 1000;
const EVENT_SOURCE_MIN = 2;

/**
 * Reserved concurrency per function. The api: the stage allows 100 requests per second with bursts
 * of 200 (http-api.ts) at 25 ms p50 / 57 ms p95 each (docs/performance.md), about 12 at once when
 * warm; 50 leaves room for cold starts (a few hundred ms each) during a burst. The signer: one short
 * call (tens of ms) per status read and per render that names assets, from both the api and the
 * worker. The reconciler: one run at a time.
 */
export const RESERVED_CONCURRENCY = { api: 50, signer: 50, reconciler: 1 } as const;

export interface ConcurrencyInput {
  /** The account's Lambda concurrent-executions quota in the region (Service Quotas). */
  readonly accountConcurrency: number;
  /** Given explicitly; otherwise derived from what the account leaves. */
  readonly workerMaxConcurrency?: number | undefined;
  readonly workerReservedConcurrency?: number | undefined;
  /** The other queue-fed functions' event-source maxima, by name (they draw on unreserved concurrency). */
  readonly otherEventSources: Readonly<Record<string, number>>;
}

export interface ConcurrencyPlan {
  readonly accountConcurrency: number;
  readonly reserved: typeof RESERVED_CONCURRENCY;
  readonly workerMaxConcurrency: number;
  /** What Kiln can use at most: reservations plus every event source at its maximum. */
  readonly kilnMaximum: number;
  /** What stays for the rest of the account when every Kiln function runs at its maximum. */
  readonly leftForTheAccount: number;
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/** The plan, or an error whose sentence says which context value to set and to what. */
export function planConcurrency(input: ConcurrencyInput): ConcurrencyPlan {
  const account = input.accountConcurrency;
  if (!Number.isInteger(account) || account < 1) {
    throw new Error(
      `accountConcurrency must be a whole number: set --context accountConcurrency to this account's Lambda "Concurrent executions" quota (Service Quotas); got ${account}.`,
    );
  }
  const reserved = sum(Object.values(RESERVED_CONCURRENCY));
  const others = sum(Object.values(input.otherEventSources));
  const fixed = reserved + others;
  const parts = [
    `api ${RESERVED_CONCURRENCY.api}, signer ${RESERVED_CONCURRENCY.signer} and reconciler ${RESERVED_CONCURRENCY.reconciler} reserved`,
    ...Object.entries(input.otherEventSources).map(([name, n]) => `${name} up to ${n}`),
  ].join(", ");
  // What the worker may have: the rest of the quota, less the unreserved minimum AWS keeps.
  const available = account - LAMBDA_UNRESERVED_MINIMUM - fixed;
  const workerReserved = input.workerReservedConcurrency;
  const workerMax =
    input.workerMaxConcurrency ?? Math.min(EVENT_SOURCE_MAX, workerReserved ?? available, available);
  const workerShare = Math.max(workerReserved ?? 0, workerMax);
  const needed = fixed + Math.max(workerShare, EVENT_SOURCE_MIN) + LAMBDA_UNRESERVED_MINIMUM;
  if (available < EVENT_SOURCE_MIN || needed > account) {
    const given = input.workerMaxConcurrency !== undefined || workerReserved !== undefined;
    const worker = given
      ? `the render worker ${workerShare} (workerMaxConcurrency/workerReservedConcurrency)`
      : `the render worker at least ${EVENT_SOURCE_MIN}`;
    const lower = given
      ? ` or lower --context workerMaxConcurrency${workerReserved !== undefined ? " and workerReservedConcurrency" : ""} to at most ${Math.max(EVENT_SOURCE_MIN, available)}`
      : "";
    throw new Error(
      `accountConcurrency ${account} is too small for Kiln: it needs ${needed} concurrent executions (${parts}, ${worker}, and the ${LAMBDA_UNRESERVED_MINIMUM} AWS keeps unreserved). Set --context accountConcurrency to this account's Lambda "Concurrent executions" quota (Service Quotas; ask for an increase if it is below ${needed})${lower}.`,
    );
  }
  if (workerMax < EVENT_SOURCE_MIN || workerMax > EVENT_SOURCE_MAX) {
    throw new Error(
      `renderWorker.maxConcurrency must be a whole number from ${EVENT_SOURCE_MIN} to ${EVENT_SOURCE_MAX} (the SQS event source limits); got ${workerMax}.`,
    );
  }
  const kilnMaximum = fixed + workerShare;
  return {
    accountConcurrency: account,
    reserved: RESERVED_CONCURRENCY,
    workerMaxConcurrency: workerMax,
    kilnMaximum,
    leftForTheAccount: account - kilnMaximum,
  };
}
