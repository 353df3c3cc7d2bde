import { describe, expect, it } from "vitest";
import {
  FaultInjector,
  InjectedFaultError,
  killsAt,
  parseFaults,
  WORKER_STEPS,
  withStoreFaults,
  workerStepOf,
  workerStoreCallHook,
} from "../../functions/local/fault-injection.js";

/** A spec from its text; the texts here are never empty. */
function injectorSpec(text: string) {
  const spec = parseFaults(text);
  if (!spec) throw new Error(`no faults in "${text}"`);
  return spec;
}

describe("parseFaults", () => {
  it("reads kill points and throttling, with defaults for the rest", () => {
    expect(parseFaults("kill=0.01,killAt=any,throttle=0.05,seed=3")).toEqual({
      kill: 0.01,
      killAt: "any",
      crash: 0,
      store: 0,
      throttle: 0.05,
      hold: 0,
      seed: 3,
    });
    expect(parseFaults("kill=0.5")?.killAt).toBe("render");
    expect(parseFaults("killAt=final-delivery")?.killAt).toBe("final-delivery");
    expect(parseFaults("off")).toBeUndefined();
  });

  it("names the entry that is wrong", () => {
    expect(() => parseFaults("killAt=somewhere")).toThrow(/killAt=somewhere is not one of claim, .*any/);
    expect(() => parseFaults("throttle=2")).toThrow(
      "KILN_FAULTS throttle=2 must be a probability between 0 and 1.",
    );
    expect(() => parseFaults("slow=0.1")).toThrow(/entry "slow=0.1" is not one of .*throttle=<0–1>/);
  });
});

describe("kill points", () => {
  it("maps the worker's store calls to its steps", () => {
    expect(workerStepOf("dynamodb.jobs", "startAttempt")).toBe("claim");
    expect(workerStepOf("s3.payloads", "get")).toBe("load-request");
    expect(workerStepOf("dynamodb.templates", "get")).toBe("load-template");
    expect(workerStepOf("s3.outputs", "put")).toBe("upload");
    expect(workerStepOf("dynamodb.jobs", "markFinalDelivery")).toBe("final-delivery");
    expect(workerStepOf("sqs.webhooks", "enqueue")).toBe("enqueue-webhook");
    // Heartbeats and lease renewals are not steps: a kill there is a kill mid-render.
    expect(workerStepOf("sqs.visibility", "change")).toBeUndefined();
    expect(workerStepOf("dynamodb.jobs", "renewLease")).toBeUndefined();
  });

  it("kills only at the chosen step, and counts each kill by step", () => {
    const at = new FaultInjector(injectorSpec("kill=1,killAt=upload"));
    expect(WORKER_STEPS.filter((step) => killsAt(step, {}, at))).toEqual(["upload"]);
    expect(at.counts).toMatchObject({ kills: 1, killsByStep: { upload: 1 } });
    const any = new FaultInjector(injectorSpec("kill=1,killAt=any"));
    expect(WORKER_STEPS.filter((step) => killsAt(step, {}, any))).toEqual([...WORKER_STEPS]);
    expect(any.counts.kills).toBe(WORKER_STEPS.length);
  });

  it("watches no store call when only mid-render kills can happen", () => {
    expect(workerStoreCallHook({}, new FaultInjector(injectorSpec("kill=0.5")))).toBeUndefined();
    const hook = workerStoreCallHook({}, new FaultInjector(injectorSpec("kill=1,killAt=claim")));
    expect(hook?.("dynamodb.jobs", "startAttempt", [])).toBe("kill");
    expect(hook?.("dynamodb.jobs", "markSucceeded", [])).toBeUndefined();
  });
});

describe("store faults", () => {
  class Store {
    async *pages(): AsyncIterable<number> {
      yield 1;
      yield 2;
    }
  }
  const collect = async (items: AsyncIterable<number>) => {
    const out: number[] = [];
    for await (const item of items) out.push(item);
    return out;
  };

  it("keep a paged read iterable, and fail it before its first page", async () => {
    const never = withStoreFaults(new Store(), "dynamodb.jobs", new FaultInjector(injectorSpec("store=0")));
    expect(await collect(never.pages())).toEqual([1, 2]);
    const always = new FaultInjector(injectorSpec("store=1"));
    const failing = withStoreFaults(new Store(), "dynamodb.jobs", always);
    await expect(collect(failing.pages())).rejects.toBeInstanceOf(InjectedFaultError);
    expect(always.counts.storeFailures).toBe(1);
  });
});
