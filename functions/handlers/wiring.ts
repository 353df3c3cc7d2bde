/**
 * What every function's `wire` takes besides its configuration: the AWS SDK clients (built by the
 * composition root: default endpoints on Lambda, the stand-ins' locally) and the runtime pieces that are
 * not configuration.
 */
import type { Clock, Logger } from "../core/ports.js";

// biome-ignore lint/suspicious/noExplicitAny: SDK client constructors differ only in their config type.
type ClientClass = new (config: any) => object;
export type ClientClasses = Readonly<Record<string, ClientClass>>;
export type ClientsOf<K extends ClientClasses> = { readonly [N in keyof K]: InstanceType<K[N]> };

/**
 * The clients of `classes`, each built on first use and then kept, with the configuration `configFor`
 * gives its name: a function that never touches one never builds it.
 */
export function lazyClients<K extends ClientClasses>(
  classes: K,
  configFor: (name: keyof K & string) => object,
): ClientsOf<K> {
  const built = new Map<string, object>();
  const clients = {};
  for (const [name, Client] of Object.entries(classes)) {
    Object.defineProperty(clients, name, {
      enumerable: true,
      get: () => {
        let client = built.get(name);
        if (!client) {
          client = new Client(configFor(name as keyof K & string));
          built.set(name, client);
        }
        return client;
      },
    });
  }
  return clients as ClientsOf<K>;
}

export interface FunctionRuntime {
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * Wraps each AWS adapter the function is wired with, named `<service>.<what>` (`dynamodb.jobs`). The
   * local stack hooks its fault injection and simulated execution environments in here.
   * @default - the adapters as they are
   */
  readonly adapt?: <T extends object>(adapter: T, name: string) => T;
}

/** `runtime.adapt`, or the identity. */
export function adapterWrapper(runtime: FunctionRuntime): <T extends object>(adapter: T, name: string) => T {
  return runtime.adapt ?? ((adapter) => adapter);
}
