import type { Renderer } from "../core/ports.js";
import type { OutputOptions, PageOptions } from "../core/render-request.js";

/**
 * Faults for tests of the local stack: workers killed mid-render, Chromium crashes, store calls that
 * fail. Only the local composition root (stack.ts) applies them, and only when given them — from code
 * or from `KILN_FAULTS` read by `npm start` / the fault tests. The Lambda entry points never read
 * `KILN_FAULTS` and never import this module, so the deployed stack cannot turn them on.
 */

/** Probabilities per event (0–1) and the seed of their pseudo-random sequence. */
export interface FaultSpec {
  /** A render's worker is killed mid-render (its environment dies: no further writes, no heartbeat). */
  readonly kill: number;
  /** Chromium is SIGKILLed while a render is in flight (every page on it fails). */
  readonly crash: number;
  /** A DynamoDB, S3 or SQS call fails (half before reaching the store, half after it applied). */
  readonly store: number;
  /** A render never finishes (until the process dies): keeps jobs provably in flight for restart tests. */
  readonly hold: number;
  readonly seed: number;
}

const FAULT_KEYS = ["kill", "crash", "store", "hold", "seed"] as const;

/** Parses `kill=0.02,crash=0.02,store=0.1,hold=0,seed=7`; unset, empty or `off` means no faults. */
export function parseFaults(text: string | undefined): FaultSpec | undefined {
  const trimmed = text?.trim() ?? "";
  if (trimmed === "" || trimmed === "off") return undefined;
  const spec: Record<string, number> = { kill: 0, crash: 0, store: 0, hold: 0, seed: 1 };
  for (const entry of trimmed.split(",")) {
    const [name = "", raw = ""] = entry.split("=").map((s) => s.trim());
    const value = Number(raw);
    if (!(FAULT_KEYS as readonly string[]).includes(name) || raw === "" || !Number.isFinite(value)) {
      throw new Error(
        `KILN_FAULTS entry "${entry}" is not one of kill=<0–1>, crash=<0–1>, store=<0–1>, hold=<0–1>, seed=<integer>.`,
      );
    }
    if (name !== "seed" && (value < 0 || value > 1)) {
      throw new Error(`KILN_FAULTS ${name}=${raw} must be a probability between 0 and 1.`);
    }
    spec[name] = value;
  }
  return spec as unknown as FaultSpec;
}

/** What a test may ask for before one render: an error to throw, a kill, a browser crash, or nothing. */
export type RenderFault = Error | "kill" | "crash-browser" | undefined;

export interface LocalFaults {
  /** Random faults, e.g. from `KILN_FAULTS`. */
  readonly random?: FaultSpec;
  /**
   * Called before Chromium is asked. Return a fault for this render; a test may also hold the render
   * here until it has observed what it needs.
   */
  readonly beforeRender?: (html: string) => RenderFault | Promise<RenderFault>;
  /** Sees the bytes of every finished render (what tests count renders and outputs with). */
  readonly afterRender?: (html: string, body: Uint8Array) => void;
  /**
   * Called when a call of the worker to one of its stores (`dynamodb.jobs`, `sqs.webhooks`, …) has
   * applied, with its arguments: "kill" kills that worker right after the write, before it sees the
   * answer (e.g. after `markFinalDelivery`, so that the final delivery never ends the job).
   */
  readonly afterStoreCall?: (adapter: string, method: string, args: readonly unknown[]) => "kill" | undefined;
}

/** `port`, whose calls are shown to `faults.afterStoreCall` once they resolve, and `kill` on its word. */
export function withStoreCallFaults<T extends object>(
  port: T,
  name: string,
  faults: LocalFaults,
  kill: (reason: Error) => void,
): T {
  const hook = faults.afterStoreCall;
  if (!hook) return port;
  return new Proxy(port, {
    get: (target, property) => {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.then((answer) => {
          if (hook(name, String(property), args) === "kill") {
            kill(new Error(`injected fault: the worker was killed after ${name}.${String(property)}`));
          }
          return answer;
        });
      };
    },
  });
}

export interface FaultCounts {
  kills: number;
  crashes: number;
  storeFailures: number;
}

/** Draws the random faults from one seeded sequence, so that a failing run can be repeated. */
export class FaultInjector {
  readonly counts: FaultCounts = { kills: 0, crashes: 0, storeFailures: 0 };
  #state: number;

  constructor(readonly spec: FaultSpec) {
    this.#state = spec.seed >>> 0 || 1;
  }

  /** mulberry32 */
  random(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  chance(probability: number): boolean {
    return probability > 0 && this.random() < probability;
  }
}

/** A store call that failed on purpose; shaped like an AWS 503 so nothing treats it specially. */
export class InjectedFaultError extends Error {
  override readonly name = "ServiceUnavailable";
  readonly $fault = "server";
}

/**
 * `port` whose async methods fail with probability `spec.store`: half of the failures before the call
 * reaches the store, half after it applied — the case that makes retries meet their own earlier write.
 */
export function withStoreFaults<T extends object>(port: T, name: string, injector: FaultInjector): T {
  return new Proxy(port, {
    get: (target, property) => {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        if (!injector.chance(injector.spec.store)) return value.apply(target, args);
        injector.counts.storeFailures += 1;
        const error = new InjectedFaultError(`injected fault: ${name}.${String(property)} failed`);
        if (injector.random() < 0.5) throw error;
        await value.apply(target, args);
        throw error;
      };
    },
  });
}

export interface FaultContext {
  readonly injector?: FaultInjector;
  /** Kills the execution environment the renderer belongs to. */
  readonly kill: (reason: Error) => void;
  /** SIGKILLs the running Chromium. */
  readonly crashBrowser: () => void;
}

export class FaultInjectingRenderer implements Renderer {
  constructor(
    private readonly inner: Renderer,
    private readonly faults: LocalFaults,
    private readonly context: FaultContext,
  ) {}

  async render(html: string, output: OutputOptions, page?: PageOptions): Promise<Uint8Array> {
    const { injector } = this.context;
    let fault = await this.faults.beforeRender?.(html);
    if (fault === undefined && injector) {
      if (injector.chance(injector.spec.kill)) fault = "kill";
      else if (injector.chance(injector.spec.crash)) fault = "crash-browser";
    }
    if (fault instanceof Error) throw fault;
    if (fault === undefined && injector?.chance(injector.spec.hold)) await new Promise<never>(() => {});
    const rendering = this.inner.render(html, output, page);
    // A moment into the render, so that it dies with a page open and work in flight.
    const moment = 5 + Math.floor((injector?.random() ?? 0.5) * 30);
    if (fault === "kill") {
      if (injector) injector.counts.kills += 1;
      setTimeout(
        () => this.context.kill(new Error("injected fault: the worker was killed mid-render")),
        moment,
      );
    } else if (fault === "crash-browser") {
      if (injector) injector.counts.crashes += 1;
      setTimeout(() => this.context.crashBrowser(), moment);
    }
    const body = await rendering;
    this.faults.afterRender?.(html, body);
    return body;
  }
}
