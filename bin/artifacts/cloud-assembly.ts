/**
 * Reads what `cdk synth` wrote for a stack — the template and its asset manifest — as the deployable
 * functions: each one's bundle directory (Code.S3Key ↔ asset manifest → cdk.out/asset.<hash>), Handler,
 * Runtime, MemorySize, Timeout, Environment.Variables (CloudFormation values, tokens unresolved) and its
 * layers' directories. Nothing here looks at the sources: only at the cloud assembly.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON is untyped by nature.
export type CfnValue = any;

export interface CfnResource {
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Record<string, CfnValue>;
  /** The construct path (`Kiln-dev/RenderWorker/Worker/Function/Resource`), when path metadata is on. */
  readonly constructPath?: string;
}

export interface SynthesizedLayer {
  readonly logicalId: string;
  /** The layer's unzipped contents: what Lambda puts at /opt. */
  readonly dir: string;
}

export interface SynthesizedFunction {
  readonly logicalId: string;
  readonly constructPath?: string;
  /** `index.handler`: module `index` in the bundle, export `handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** The bundle: what Lambda unzips to /var/task. */
  readonly codeDir: string;
  readonly layers: readonly SynthesizedLayer[];
  /** Environment.Variables as synthesized: strings, or Ref / Fn::GetAtt / Fn::Join to resolve. */
  readonly environment: Readonly<Record<string, CfnValue>>;
}

export interface SynthesizedStack {
  readonly stackName: string;
  readonly assemblyDir: string;
  readonly template: CfnValue;
  readonly resources: readonly CfnResource[];
  readonly functions: readonly SynthesizedFunction[];
  /** The function whose construct path ends with `path` (`RenderWorker/Worker`), or a thrown sentence. */
  functionAt(path: string): SynthesizedFunction;
}

interface AssetManifest {
  readonly files?: Record<
    string,
    {
      readonly source: { readonly path: string; readonly packaging?: string };
      readonly destinations: Record<string, { readonly objectKey: string }>;
    }
  >;
}

/** Lambda's defaults when a template leaves them out. */
const DEFAULT_MEMORY_MB = 128;
const DEFAULT_TIMEOUT_SECONDS = 3;

export function readSynthesizedStack(assemblyDir: string, stackName: string): SynthesizedStack {
  const templateFile = join(assemblyDir, `${stackName}.template.json`);
  const manifestFile = join(assemblyDir, `${stackName}.assets.json`);
  for (const file of [templateFile, manifestFile]) {
    if (!existsSync(file))
      throw new Error(`The cloud assembly ${assemblyDir} has no ${file}: synthesize first.`);
  }
  const template = JSON.parse(readFileSync(templateFile, "utf8")) as CfnValue;
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as AssetManifest;

  const assetDirByObjectKey = new Map<string, string>();
  for (const file of Object.values(manifest.files ?? {})) {
    for (const destination of Object.values(file.destinations)) {
      assetDirByObjectKey.set(destination.objectKey, join(assemblyDir, file.source.path));
    }
  }
  const resources: CfnResource[] = Object.entries((template.Resources ?? {}) as Record<string, CfnValue>).map(
    ([logicalId, r]) => ({
      logicalId,
      type: String(r.Type),
      properties: (r.Properties ?? {}) as Record<string, CfnValue>,
      constructPath: r.Metadata?.["aws:cdk:path"],
    }),
  );
  const byId = new Map(resources.map((r) => [r.logicalId, r]));

  const assetDir = (owner: string, s3Key: unknown): string => {
    const dir = typeof s3Key === "string" ? assetDirByObjectKey.get(s3Key) : undefined;
    if (!dir) {
      throw new Error(
        `${owner}'s code (S3Key ${JSON.stringify(s3Key)}) is not in ${manifestFile}: the assembly is incomplete.`,
      );
    }
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new Error(`${owner}'s bundle ${dir} is missing from the cloud assembly.`);
    }
    return dir;
  };

  const functions: SynthesizedFunction[] = resources
    .filter((r) => r.type === "AWS::Lambda::Function" && r.properties.Code?.S3Key !== undefined)
    .map((r) => {
      const p = r.properties;
      const layers = ((p.Layers ?? []) as CfnValue[]).map((layer): SynthesizedLayer => {
        const layerId = layer?.Ref;
        const resource = typeof layerId === "string" ? byId.get(layerId) : undefined;
        if (resource?.type !== "AWS::Lambda::LayerVersion") {
          throw new Error(
            `${r.logicalId} names a layer the template does not define: ${JSON.stringify(layer)}.`,
          );
        }
        return {
          logicalId: resource.logicalId,
          dir: assetDir(resource.logicalId, resource.properties.Content?.S3Key),
        };
      });
      return {
        logicalId: r.logicalId,
        ...(r.constructPath ? { constructPath: r.constructPath } : {}),
        handler: String(p.Handler),
        runtime: String(p.Runtime),
        memorySize: Number(p.MemorySize ?? DEFAULT_MEMORY_MB),
        timeoutSeconds: Number(p.Timeout ?? DEFAULT_TIMEOUT_SECONDS),
        codeDir: assetDir(r.logicalId, p.Code.S3Key),
        layers,
        environment: (p.Environment?.Variables ?? {}) as Record<string, CfnValue>,
      };
    });

  return {
    stackName,
    assemblyDir,
    template,
    resources,
    functions,
    functionAt(path) {
      const matches = functions.filter((f) => {
        const at = f.constructPath?.replace(/\/Resource$/, "");
        return at !== undefined && (at.endsWith(`/${path}`) || at.endsWith(`/${path}/Function`));
      });
      if (matches.length !== 1) {
        throw new Error(
          `Expected one function at ${path} in ${stackName}, found ${matches.length}: ${functions
            .map((f) => f.constructPath ?? f.logicalId)
            .join(", ")}.`,
        );
      }
      return matches[0] as SynthesizedFunction;
    },
  };
}

/** What a CloudFormation value resolves to locally: a resource's `Ref` and its `Fn::GetAtt` attributes. */
export interface LocalBinding {
  readonly ref?: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

/**
 * Resolves a synthesized value (a string, Ref, Fn::GetAtt, Fn::Join, Fn::Select) against local bindings
 * by logical id. A token naming a resource or attribute with no binding throws, naming it: a function
 * would otherwise start with a variable that points nowhere.
 */
export function resolveCfnValue(
  value: CfnValue,
  bindings: ReadonlyMap<string, LocalBinding>,
  where: string,
): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value && typeof value === "object") {
    if ("Ref" in value) {
      const ref = bindings.get(String(value.Ref))?.ref;
      if (ref === undefined) throw new Error(`${where}: nothing local stands for Ref ${value.Ref}.`);
      return ref;
    }
    if ("Fn::GetAtt" in value) {
      const [id, attribute] = value["Fn::GetAtt"] as [string, string];
      const resolved = bindings.get(id)?.attributes?.[attribute];
      if (resolved === undefined) throw new Error(`${where}: nothing local stands for ${id}.${attribute}.`);
      return resolved;
    }
    if ("Fn::Join" in value) {
      const [separator, parts] = value["Fn::Join"] as [string, CfnValue[]];
      return parts.map((part) => resolveCfnValue(part, bindings, where)).join(separator);
    }
    if ("Fn::Select" in value) {
      const [index, list] = value["Fn::Select"] as [number, CfnValue[]];
      return resolveCfnValue(list[Number(index)], bindings, where);
    }
  }
  throw new Error(`${where}: the sandbox cannot resolve ${JSON.stringify(value)}.`);
}
