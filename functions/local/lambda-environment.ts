/**
 * One simulated Lambda execution environment of the local stack. Lambda runs each invocation in an
 * environment that can die mid-invocation (crash, out of memory, timeout): nothing of that invocation
 * runs afterwards, and the next invocation gets a fresh environment. Locally the handler shares the
 * process, so "nothing runs afterwards" is enforced at the ports: every port the environment's handler
 * was built with is wrapped by `freeze`, and once the environment is dead their calls never settle —
 * no more writes, no heartbeats, no deletes, exactly as if the process had gone.
 */
export class LocalLambdaEnvironment {
  #dead = false;
  #markDead: (reason: Error) => void = () => {};
  /** Resolves with the reason once the environment has died. */
  readonly died: Promise<Error>;

  constructor() {
    this.died = new Promise((resolve) => {
      this.#markDead = resolve;
    });
  }

  get dead(): boolean {
    return this.#dead;
  }

  kill(reason: Error): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#markDead(reason);
  }

  /** `port`, whose async methods stop settling once this environment is dead. */
  freeze<T extends object>(port: T): T {
    return new Proxy(port, {
      get: (target, property) => {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (this.#dead) return NEVER;
          const result: unknown = value.apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (v) => (this.#dead ? NEVER : v),
            (e) => (this.#dead ? NEVER : Promise.reject(e)),
          );
        };
      },
    });
  }
}

const NEVER = new Promise<never>(() => {});
