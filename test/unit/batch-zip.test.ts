import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZipLimitError, ZipWriter } from "../../functions/core/zip-writer.js";

const run = promisify(execFile);
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-zip-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function build(files: Array<[string, Uint8Array]>): Buffer {
  const zip = new ZipWriter(new Date("2026-11-22T10:11:12Z"));
  const parts = files.flatMap(([name, data]) => zip.add(name, data));
  return Buffer.concat([...parts, zip.finish()]);
}

/** The central directory, read back by hand from the end record. */
function centralDirectory(zip: Buffer) {
  const end = zip.length - 22;
  expect(zip.readUInt32LE(end)).toBe(0x06054b50);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries: Array<{ name: string; crc: number; size: number; offset: number }> = [];
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const nameLength = zip.readUInt16LE(at + 28);
    entries.push({
      crc: zip.readUInt32LE(at + 16),
      size: zip.readUInt32LE(at + 24),
      offset: zip.readUInt32LE(at + 42),
      name: zip.subarray(at + 46, at + 46 + nameLength).toString("utf8"),
    });
    at += 46 + nameLength;
  }
  return entries;
}

describe("zip writer", () => {
  const files: Array<[string, Uint8Array]> = [
    ["0.png", Buffer.from("first file")],
    ["1.png", new Uint8Array(0)],
    ["manifest.json", Buffer.from('{"ok":true}\n')],
  ];

  it("writes a central directory that points at each stored file", () => {
    const zip = build(files);
    const entries = centralDirectory(zip);
    expect(entries.map((e) => e.name)).toEqual(["0.png", "1.png", "manifest.json"]);
    for (const [i, e] of entries.entries()) {
      const data = files[i]?.[1] ?? new Uint8Array();
      expect(e.crc).toBe(crc32(data));
      expect(e.size).toBe(data.byteLength);
      expect(zip.readUInt32LE(e.offset)).toBe(0x04034b50);
      const start = e.offset + 30 + zip.readUInt16LE(e.offset + 26);
      expect(zip.subarray(start, start + e.size).equals(Buffer.from(data))).toBe(true);
    }
  });

  it("is accepted by a real zip reader, with the same contents", async () => {
    const path = join(dir, "t.zip");
    await writeFile(path, build(files));
    const tested = await run("python3", ["-m", "zipfile", "-t", path]);
    expect(tested.stdout).toContain("Done testing");
    const { stdout } = await run("python3", [
      "-c",
      "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(z.read('manifest.json').decode(), end=''); print(z.getinfo('0.png').date_time)",
      path,
    ]);
    expect(stdout).toBe('{"ok":true}\n(2026, 11, 22, 10, 11, 12)\n');
  });

  it("is byte-identical for the same files and timestamp", () => {
    expect(build(files).equals(build(files))).toBe(true);
  });

  it("refuses more entries than a classic zip holds", () => {
    const zip = new ZipWriter(new Date());
    for (let i = 0; i < 0xffff; i++) zip.add(String(i), new Uint8Array(0));
    expect(() => zip.add("one-too-many", new Uint8Array(0))).toThrow(ZipLimitError);
  });
});
