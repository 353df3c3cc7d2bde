import type { LiveCapture, Renderer } from "../core/ports.js";
import type { OutputOptions, PageOptions } from "../core/render-request.js";
import type { LivePage } from "../core/url-source.js";

/**
 * Faults for tests of the local stack: workers killed mid-render, Chromium crashes, store calls that
 * fail. Only the local composition root (stack.ts) applies them, and only when given them — from code
 * or from `KILN_FAULTS` read by `npm start` / the fault tests. The Lambda entry points never read
 * `KILN_FAULTS` and never import this module, so the deployed stack cannot turn them on.
 */

/**
 * The points of a render attempt where a worker can be killed, in the order an attempt passes them.
 * Each store step fires once its call has applied, so the worker dies having written and before it
 * sees the answer; `render` fires mid-render; `delete` fires once the handler has returned, before
 * the event source deletes the batch's messages.
 */
export const WORKER_STEPS = [
  "claim",
  "load-request",
  "load-template",
  "render",
  "upload",
  "mark-succeeded",
  "mark-failed",
  "release",
  "enqueue-webhook",
  "delete",
  "final-delivery",
] as const;

export type WorkerStep = (typeof WORKER_STEPS)[number];

/** Which worker step a store call of the worker is (adapter and method as wire.ts names them). */
export function workerStepOf(adapter: string, method: string): WorkerStep | undefined {
  if (adapter === "dynamodb.jobs") {
    const steps: Record<string, WorkerStep> = {
      startAttempt: "claim",
      getRequest: "load-request",
      getRequestAndSettings: "load-request",
      markSucceeded: "mark-succeeded",
      markFailed: "mark-failed",
      releaseLease: "release",
      markFinalDelivery: "final-delivery",
    };
    return steps[method];
  }
  if (adapter === "s3.payloads" && method === "get") return "load-request";
  if (adapter === "dynamodb.templates" || adapter === "s3.templates") return "load-template";
  if (adapter === "s3.outputs" && method === "put") return "upload";
  if (adapter === "sqs.webhooks" && method === "enqueue") return "enqueue-webhook";
  return undefined;
}

/** Probabilities per event (0–1) and the seed of their pseudo-random sequence. */
export interface FaultSpec {
  /**
   * A worker passing a kill point (see `killAt`) is killed there: its environment dies (no further
   * writes, no heartbeat, no deletes).
   */
  readonly kill: number;
  /** The kill points: one worker step, or every step (`any`). @default "render" */
  readonly killAt: WorkerStep | "any";
  /** Chromium is SIGKILLed while a render is in flight (every page on it fails). */
  readonly crash: number;
  /** A DynamoDB, S3 or SQS call fails (half before reaching the store, half after it applied). */
  readonly store: number;
  /**
   * A DynamoDB or S3 request is answered by a throttling response on the wire, before the stand-in
   * sees it: DynamoDB HTTP 400 `ProvisionedThroughputExceededException` or `ThrottlingException`,
   * S3 HTTP 503 `SlowDown` (throttling-proxy.ts). The SDK's own retries meet them as on AWS.
   */
  readonly throttle: number;
  /** A render never finishes (until the process dies): keeps jobs provably in flight for restart tests. */
  readonly hold: number;
  readonly seed: number;
}

const NUMERIC_KEYS = ["kill", "crash", "store", "throttle", "hold", "seed"] as const;
const KILL_AT = [...WORKER_STEPS, "any"] as const;
const FAULTS_SYNTAX =
  "kill=<0–1>, killAt=any|<step>, crash=<0–1>, store=<0–1>, throttle=<0–1>, hold=<0–1>, seed=<integer>";

/**
 * Parses `kill=0.02,killAt=any,crash=0.02,store=0.1,throttle=0.05,hold=0,seed=7`; unset, empty or
 * `off` means no faults.
 */
export function parseFaults(text: string | undefined): FaultSpec | undefined {
  const trimmed = text?.trim() ?? "";
  if (trimmed === "" || trimmed === "off") return undefined;
  const spec: Record<string, number | string> = {
    kill: 0,
    killAt: "render",
    crash: 0,
    store: 0,
    throttle: 0,
    hold: 0,
    seed: 1,
  };
  for (const entry of trimmed.split(",")) {
    const [name = "", raw = ""] = entry.split("=").map((s) => s.trim());
    if (name === "killAt") {
      if (!(KILL_AT as readonly string[]).includes(raw)) {
        throw new Error(`KILN_FAULTS killAt=${raw} is not one of ${KILL_AT.join(", ")}.`);
      }
      spec.killAt = raw;
      continue;
    }
    const value = Number(raw);
    if (!(NUMERIC_KEYS as readonly string[]).includes(name) || raw === "" || !Number.isFinite(value)) {
      throw new Error(`KILN_FAULTS entry "${entry}" is not one of ${FAULTS_SYNTAX}.`);
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
  readonly afterStoreCall?: StoreCallHook;
  /** Called at every kill point a worker passes (WORKER_STEPS): "kill" kills that worker there. */
  readonly atStep?: (step: WorkerStep) => "kill" | undefined;
}

export type StoreCallHook = (adapter: string, method: string, args: readonly unknown[]) => "kill" | undefined;

/** `port`, whose calls are shown to `hook` once they resolve, and `kill` on its word. */
export function withStoreCallFaults<T extends object>(
  port: T,
  name: string,
  hook: StoreCallHook | undefined,
  kill: (reason: Error) => void,
): T {
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

/**
 * Whether the worker dies at `step`: on the test's word (`atStep`), or drawn from the random faults
 * when `step` is one of their kill points.
 */
export function killsAt(step: WorkerStep, faults: LocalFaults, injector?: FaultInjector): boolean {
  const killed =
    faults.atStep?.(step) === "kill" ||
    (injector !== undefined &&
      (injector.spec.killAt === "any" || injector.spec.killAt === step) &&
      injector.chance(injector.spec.kill));
  if (killed && injector) {
    injector.counts.kills += 1;
    injector.counts.killsByStep[step] = (injector.counts.killsByStep[step] ?? 0) + 1;
  }
  return killed;
}

/** Whether any kill point other than mid-render can fire, so that the store calls need watching. */
function killsBeyondRender(faults: LocalFaults, injector?: FaultInjector): boolean {
  const random = injector !== undefined && injector.spec.kill > 0 && injector.spec.killAt !== "render";
  return random || faults.atStep !== undefined || faults.afterStoreCall !== undefined;
}

/** The hook for the worker's store calls: the test's own, then the kill points of the worker steps. */
export function workerStoreCallHook(
  faults: LocalFaults,
  injector?: FaultInjector,
): StoreCallHook | undefined {
  if (!killsBeyondRender(faults, injector)) return undefined;
  return (adapter, method, args) => {
    if (faults.afterStoreCall?.(adapter, method, args) === "kill") return "kill";
    const step = workerStepOf(adapter, method);
    return step && killsAt(step, faults, injector) ? "kill" : undefined;
  };
}

/**
 * `handler`, whose environment may die at the `delete` kill point: after the handler has returned
 * and before the event source deletes the batch, so every message of it comes back.
 */
export function withKillBeforeDelete<E, R>(
  handler: (event: E) => Promise<R>,
  faults: LocalFaults,
  injector: FaultInjector | undefined,
  kill: (reason: Error) => void,
): (event: E) => Promise<R> {
  if (!killsBeyondRender(faults, injector)) return handler;
  return async (event) => {
    const response = await handler(event);
    if (!killsAt("delete", faults, injector)) return response;
    kill(new Error("injected fault: the worker was killed after it returned, before its batch was deleted"));
    // A dead environment answers nothing: the event source sees it die.
    return new Promise<never>(() => {});
  };
}

export interface FaultCounts {
  kills: number;
  killsByStep: Partial<Record<WorkerStep, number>>;
  crashes: number;
  storeFailures: number;
  /** Requests answered with a throttling response (throttling-proxy.ts). */
  throttled: number;
}

/** Draws the random faults from one seeded sequence, so that a failing run can be repeated. */
export class FaultInjector {
  readonly counts: FaultCounts = { kills: 0, killsByStep: {}, crashes: 0, storeFailures: 0, throttled: 0 };
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
      if (isAsyncGeneratorFunction(value)) {
        // A paged read (findUnfinished): the iteration fails before its first page.
        return async function* (...args: unknown[]) {
          if (injector.chance(injector.spec.store)) {
            injector.counts.storeFailures += 1;
            throw new InjectedFaultError(`injected fault: ${name}.${String(property)} failed`);
          }
          yield* value.apply(target, args) as AsyncIterable<unknown>;
        };
      }
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

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor;

function isAsyncGeneratorFunction(value: unknown): boolean {
  return value instanceof AsyncGeneratorFunction;
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
    const body = await this.#withFaults(html, () => this.inner.render(html, output, page));
    this.faults.afterRender?.(html, body);
    return body;
  }

  /** A URL job meets the same faults, keyed by its URL where a template's are keyed by its HTML. */
  async capture(live: LivePage, output: OutputOptions, page?: PageOptions): Promise<LiveCapture> {
    const captured = await this.#withFaults(live.url, () => this.inner.capture(live, output, page));
    this.faults.afterRender?.(live.url, captured.bytes);
    return captured;
  }

  async #withFaults<T>(content: string, run: () => Promise<T>): Promise<T> {
    const { injector } = this.context;
    let fault = await this.faults.beforeRender?.(content);
    if (fault === "kill" && injector) {
      injector.counts.kills += 1;
      injector.counts.killsByStep.render = (injector.counts.killsByStep.render ?? 0) + 1;
    }
    if (fault === undefined && killsAt("render", this.faults, injector)) fault = "kill";
    else if (fault === undefined && injector?.chance(injector.spec.crash)) fault = "crash-browser";
    if (fault instanceof Error) throw fault;
    if (fault === undefined && injector?.chance(injector.spec.hold)) await new Promise<never>(() => {});
    const rendering = run();
    // A moment into the render, so that it dies with a page open and work in flight.
    const moment = 5 + Math.floor((injector?.random() ?? 0.5) * 30);
    if (fault === "kill") {
      setTimeout(
        () => this.context.kill(new Error("injected fault: the worker was killed mid-render")),
        moment,
      );
    } else if (fault === "crash-browser") {
      if (injector) injector.counts.crashes += 1;
      setTimeout(() => this.context.crashBrowser(), moment);
    }
    return rendering;
  }
}
