import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError, jsonErrorOffset, readJsonFile } from "../../bin/commands/cli-support.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-cli-input-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MALFORMED = [
  '{"a": 1,}',
  '{"a" 1}',
  '{"a": 1} x',
  '{"a": "b',
  '["a\tb"]',
  '{"a": "\\x"}',
  '{"a": "\\u12g4"}',
  "[1, 2,, 3]",
  "[01]",
  "[1.]",
  "[-]",
  '{"a": tru}',
  '{"a": nul}',
  "{'a': 1}",
  '{\n  "a": 1,\n  "b": }\n',
  '{"a": [1, {"b": 2]}',
  "",
  "   ",
];

describe("jsonErrorOffset", () => {
  it("finds no error in valid JSON", () => {
    for (const text of [
      '{"a":[1,-2.5e3,true,false,null,"\\u00e9\\n"]}',
      " [ ] ",
      '"x"',
      "0",
      '{"é😀": {}}',
    ]) {
      expect(JSON.parse(text)).toBeDefined();
      expect(jsonErrorOffset(text)).toBeUndefined();
    }
  });

  it("finds where V8 says parsing fails, whenever V8 says where", () => {
    let compared = 0;
    for (const text of MALFORMED) {
      const message = (() => {
        try {
          JSON.parse(text);
          return "";
        } catch (err) {
          return (err as Error).message;
        }
      })();
      expect(message, text).not.toBe("");
      const given = /at position (\d+)/.exec(message)?.[1];
      const found = jsonErrorOffset(text);
      expect(found, text).toBeDefined();
      if (given !== undefined) {
        expect(found, text).toBe(Number(given));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(5);
  });
});

describe("readJsonFile", () => {
  it("names the file, line and column of a syntax error, and what is wrong", async () => {
    const path = join(dir, "job.json");
    await writeFile(path, '{\n  "output": {"format": "png"},\n  "data": {"total": }\n}\n');
    const error = await readJsonFile(path).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(`${path}:3:21: not valid JSON: Unexpected token '}'`);

    await writeFile(path, '{\n  "a": 1\n  "b": 2\n}');
    await expect(readJsonFile(path)).rejects.toThrow(
      `${path}:3:3: not valid JSON: Expected ',' or '}' after property value`,
    );
  });

  it("names a file it cannot read, with the reason", async () => {
    await expect(readJsonFile(join(dir, "missing.json"))).rejects.toThrow(
      new InputError(`cannot read ${join(dir, "missing.json")}: ENOENT`),
    );
  });

  it("answers the parsed value of valid JSON", async () => {
    const path = join(dir, "ok.json");
    await writeFile(path, '{"output": {"format": "pdf"}}');
    expect(await readJsonFile(path)).toEqual({ output: { format: "pdf" } });
  });
});
