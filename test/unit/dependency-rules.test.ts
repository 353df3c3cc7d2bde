import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The dependency rules of the layout (DESIGN.md), checked over the sources:
 * - functions/core imports nothing of ours outside core, and no package that talks to AWS, drives
 *   Chromium, writes archives or describes infrastructure: core is the pure domain;
 * - functions/handlers never import functions/local (the local stack wires handlers, not the reverse);
 * - functions/client (the @kiln/client package) imports only its own files and Node's built-ins: it is
 *   published on its own, without the rest of Kiln or any dependency;
 * - lib/ imports from functions/ only core (constants, schemas and names shared with the CDK app; core
 *   is free of SDK clients, so nothing of the runtime comes along), the per-function descriptors
 *   `functions/handlers/<name>/function.ts`, their type `functions/handlers/function-definition.ts` and
 *   the permissions they declare (`functions/handlers/permissions.ts`, plain data).
 *   Handler entry files are named by path (lib/handler-entries.ts), never imported.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;

interface SourceFile {
  /** Repository-relative, with forward slashes. */
  readonly path: string;
  readonly text: string;
}

interface Import {
  readonly file: string;
  readonly specifier: string;
  /** Repository-relative path the specifier points at, for relative specifiers. */
  readonly target?: string;
}

const IMPORT_PATTERNS = [
  // import x from "…", import type { X } from "…", export { x } from "…", export * from "…"; lists
  // may span lines, but never a statement's end.
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm,
  // import "…" (for its side effects)
  /^\s*import\s*["']([^"']+)["']/gm,
  // import("…"), awaited or not
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
];

function importsOf(file: SourceFile): Import[] {
  const found: Import[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of file.text.matchAll(pattern)) {
      const specifier = match[1] as string;
      const target = specifier.startsWith(".")
        ? relative(ROOT, resolve(ROOT, dirname(file.path), specifier)).replaceAll("\\", "/")
        : undefined;
      found.push({ file: file.path, specifier, ...(target !== undefined ? { target } : {}) });
    }
  }
  return found;
}

interface Rule {
  readonly name: string;
  /** Repository-relative directory whose files the rule governs. */
  readonly under: string;
  /** Of those, only the files whose path matches. @default every file */
  readonly files?: RegExp;
  /** Why `imp` breaks the rule, or undefined when it does not. */
  readonly broken: (imp: Import) => string | undefined;
}

/** Packages core may not use: each belongs to an adapter, a handler or the CDK app. */
const NOT_FOR_CORE = [
  /^@aws-sdk\//,
  /^@smithy\//,
  /^@aws-lambda-powertools\//,
  /^aws-lambda$/,
  /^aws-cdk-lib(\/|$)/,
  /^constructs$/,
  /^puppeteer(-core)?(\/|$)/,
  /^@sparticuz\//,
  /^yazl$/,
];

/**
 * A function's definition and what definitions share, and the api's route table with its response
 * schemas and error texts: what lib/ reads of the functions.
 */
const DEFINITION =
  /^functions\/handlers\/([^/]+\/function|function-definition|permissions|shared-settings|definitions|api\/operations|api\/http-errors|api\/response-schemas)\.[cm]?[jt]s$/;

const LIB_MAY_IMPORT_FROM_FUNCTIONS = [/^functions\/core\//, DEFINITION];

const RULES: readonly Rule[] = [
  {
    name: "core depends on nothing of ours outside core, and on no AWS, Chromium or archive package",
    under: "functions/core",
    broken: ({ specifier, target }) => {
      if (target !== undefined) {
        return target.startsWith("functions/core/") ? undefined : `reaches outside core to ${target}`;
      }
      return NOT_FOR_CORE.some((p) => p.test(specifier)) ? `uses ${specifier}` : undefined;
    },
  },
  {
    name: "handlers never import the local stack",
    under: "functions/handlers",
    broken: ({ target }) => (target?.startsWith("functions/local/") ? `imports ${target}` : undefined),
  },
  {
    // lib/ loads them: an adapter imported here would put the AWS SDK or Chromium into every synth.
    name: "function definitions import only zod, core and each other",
    under: "functions/handlers",
    files: DEFINITION,
    broken: ({ specifier, target }) => {
      if (target !== undefined) {
        return target.startsWith("functions/core/") || DEFINITION.test(target)
          ? undefined
          : `imports ${target}`;
      }
      return specifier === "zod" ? undefined : `uses ${specifier}`;
    },
  },
  {
    name: "lib/ imports from functions/ only core and the function descriptors",
    under: "lib",
    broken: ({ target }) =>
      target?.startsWith("functions/") && !LIB_MAY_IMPORT_FROM_FUNCTIONS.some((p) => p.test(target))
        ? `imports ${target}`
        : undefined,
  },
  {
    name: "the client package imports only its own files and node: built-ins",
    under: "functions/client",
    broken: ({ specifier, target }) => {
      if (target !== undefined) {
        return target.startsWith("functions/client/")
          ? undefined
          : `reaches outside the package to ${target}`;
      }
      return specifier.startsWith("node:") ? undefined : `uses ${specifier}`;
    },
  },
];

function violations(rule: Rule, files: readonly SourceFile[]): string[] {
  return files
    .filter((f) => f.path.startsWith(`${rule.under}/`) && (rule.files?.test(f.path) ?? true))
    .flatMap(importsOf)
    .flatMap((imp) => {
      const why = rule.broken(imp);
      return why === undefined ? [] : [`${imp.file}: ${why} ("${imp.specifier}")`];
    });
}

function sourcesUnder(dir: string): SourceFile[] {
  return (
    readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
      // Built output (the client package's dist) is not source.
      .filter(
        (entry) => entry.isFile() && SOURCE.test(entry.name) && !/[/\\]dist([/\\]|$)/.test(entry.parentPath),
      )
      .map((entry) => {
        const path = relative(ROOT, join(entry.parentPath, entry.name)).replaceAll("\\", "/");
        return { path, text: readFileSync(join(ROOT, path), "utf8") };
      })
  );
}

describe("dependency rules", () => {
  const sources = [...sourcesUnder("functions"), ...sourcesUnder("lib")];

  it("reads the sources of every governed directory", () => {
    for (const rule of RULES) {
      expect(sources.filter((f) => f.path.startsWith(`${rule.under}/`)).length).toBeGreaterThan(2);
    }
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      expect(violations(rule, sources)).toEqual([]);
    });
  }

  it("finds static, type-only, re-exported, side-effect and dynamic imports", () => {
    const file: SourceFile = {
      path: "functions/core/example.ts",
      text: [
        'import { a } from "./a.js";',
        "import type {",
        "  B,",
        "  C,",
        '} from "../adapters/aws/b.js";',
        'export { d } from "./d.js";',
        'export * from "@aws-sdk/client-s3";',
        'import "./side-effect.js";',
        'const lazy = await import("../local/stack.js");',
        'const text = "this string names no import";',
      ].join("\n"),
    };
    expect(importsOf(file).map((i) => i.target ?? i.specifier)).toEqual([
      "functions/core/a.js",
      "functions/adapters/aws/b.js",
      "functions/core/d.js",
      "@aws-sdk/client-s3",
      "functions/core/side-effect.js",
      "functions/local/stack.js",
    ]);
  });

  it("names each import that breaks a rule", () => {
    const [core, handlers, definitions, lib] = RULES as [Rule, Rule, Rule, Rule];
    const files: SourceFile[] = [
      {
        path: "functions/core/bad.ts",
        text: 'import { x } from "../adapters/aws/x.js";\nimport { Page } from "puppeteer-core";\nimport { z } from "zod";',
      },
      { path: "functions/handlers/api/bad.ts", text: 'const s = await import("../../local/stack.js");' },
      {
        path: "functions/handlers/api/function.ts",
        text: [
          'import { z } from "zod";',
          'import { ENV } from "../../core/constants.js";',
          'import { setting } from "../function-definition.js";',
          'import { DynamoDbJobStore } from "../../adapters/aws/dynamodb-job-store.js";',
          'import { S3Client } from "@aws-sdk/client-s3";',
        ].join("\n"),
      },
      {
        path: "lib/constructs/bad.ts",
        text: [
          'import { ENV } from "../../functions/core/constants.js";',
          'import { apiFunction } from "../../functions/handlers/api/function.js";',
          'import type { FunctionDefinition } from "../../functions/handlers/function-definition.js";',
          'import { makeHandler } from "../../functions/handlers/api/handler.js";',
        ].join("\n"),
      },
    ];
    expect(violations(core, files)).toEqual([
      'functions/core/bad.ts: reaches outside core to functions/adapters/aws/x.js ("../adapters/aws/x.js")',
      'functions/core/bad.ts: uses puppeteer-core ("puppeteer-core")',
    ]);
    expect(violations(handlers, files)).toEqual([
      'functions/handlers/api/bad.ts: imports functions/local/stack.js ("../../local/stack.js")',
    ]);
    expect(violations(definitions, files)).toEqual([
      'functions/handlers/api/function.ts: imports functions/adapters/aws/dynamodb-job-store.js ("../../adapters/aws/dynamodb-job-store.js")',
      'functions/handlers/api/function.ts: uses @aws-sdk/client-s3 ("@aws-sdk/client-s3")',
    ]);
    expect(violations(lib, files)).toEqual([
      'lib/constructs/bad.ts: imports functions/handlers/api/handler.js ("../../functions/handlers/api/handler.js")',
    ]);
  });
});
