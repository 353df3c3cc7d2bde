import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zipStream } from "../../functions/adapters/zip/yazl-archive.js";
import type { ArchiveEntry } from "../../functions/core/batches.js";

const run = promisify(execFile);
const MODIFIED = new Date("2026-11-22T10:11:12Z");
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kiln-zip-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function* from(entries: Iterable<ArchiveEntry>): AsyncGenerator<ArchiveEntry> {
  yield* entries;
}

async function build(entries: Iterable<ArchiveEntry>, modified = MODIFIED): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of zipStream(from(entries), modified)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function saved(zip: Buffer, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, zip);
  return path;
}

/** The ZIP64 end of central directory record's entry count, found through its locator. */
function zip64EntryCount(zip: Buffer): bigint {
  const end = zip.length - 22;
  expect(zip.readUInt32LE(end)).toBe(0x06054b50);
  // The classic record says "see ZIP64" with 0xffff where the count no longer fits.
  expect(zip.readUInt16LE(end + 10)).toBe(0xffff);
  const locator = end - 20;
  expect(zip.readUInt32LE(locator)).toBe(0x07064b50);
  const record = Number(zip.readBigUInt64LE(locator + 8));
  expect(zip.readUInt32LE(record)).toBe(0x06064b50);
  return zip.readBigUInt64LE(record + 32);
}

describe("batch zip archives", () => {
  const files: ArchiveEntry[] = [
    { name: "0.png", data: Buffer.from("first file") },
    { name: "1.png", data: new Uint8Array(0) },
    { name: "manifest.json", data: Buffer.from('{"ok":true}\n') },
  ];

  it("is accepted by real zip readers, with the files stored, in order, dated in UTC", async () => {
    const path = await saved(await build(files), "t.zip");
    const tested = await run("unzip", ["-tq", path]);
    expect(tested.stdout).toContain("No errors detected");
    const listed = await run("zipinfo", ["-l", path]);
    const rows = listed.stdout.split("\n").filter((l) => /\s(0|1)\.png$|\smanifest\.json$/.test(l));
    expect(rows.map((l) => l.split(/\s+/).at(-1))).toEqual(["0.png", "1.png", "manifest.json"]);
    // Method "stor": stored, not deflated.
    for (const row of rows) expect(row).toMatch(/ stor /);
    const { stdout } = await run("python3", [
      "-c",
      "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(z.read('manifest.json').decode(), end=''); print(z.read('0.png').decode()); print(z.getinfo('0.png').date_time)",
      path,
    ]);
    expect(stdout).toBe('{"ok":true}\nfirst file\n(2026, 11, 22, 10, 11, 12)\n');
  });

  it("is byte-identical for the same files and timestamp, whatever the time zone", async () => {
    const utc = await build(files);
    expect((await build(files)).equals(utc)).toBe(true);
    const zone = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      expect((await build(files)).equals(utc)).toBe(true);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it("holds more than 65,535 files (ZIP64)", async () => {
    // One more than a classic zip holds. yazl scans its entry list on every add, so this takes seconds.
    const count = 0x10000;
    const zip = await build(
      Array.from({ length: count }, (_, i) => ({ name: `${i}.png`, data: new Uint8Array([i & 0xff]) })),
    );
    expect(zip64EntryCount(zip)).toBe(BigInt(count));
    const path = await saved(zip, "many.zip");
    const listed = await run("zipinfo", ["-1", path], { maxBuffer: 16 * 1024 * 1024 });
    const names = listed.stdout.trimEnd().split("\n");
    expect(names).toHaveLength(count);
    expect(names.at(-1)).toBe(`${count - 1}.png`);
    const tested = await run("unzip", ["-tq", path], { maxBuffer: 16 * 1024 * 1024 });
    expect(tested.stdout).toContain("No errors detected");
  });

  it("takes the next file only once the reader has taken the previous one", async () => {
    const size = 1024 * 1024;
    let received = 0;
    const seenAtPull: number[] = [];
    async function* outputs(): AsyncGenerator<ArchiveEntry> {
      for (let i = 0; i < 6; i++) {
        seenAtPull.push(received);
        yield { name: `${i}.pdf`, data: new Uint8Array(size) };
      }
    }
    for await (const chunk of zipStream(outputs(), MODIFIED)) received += (chunk as Buffer).length;
    // File k is read only after the reader has the bytes of all but the last file before it.
    seenAtPull.forEach((bytes, k) => {
      expect(bytes).toBeGreaterThanOrEqual(Math.max(0, k - 1) * size);
    });
  });

  it("reads no more files once the reader gives up", async () => {
    let pulled = 0;
    let closed: () => void = () => {};
    const sourceClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    async function* outputs(): AsyncGenerator<ArchiveEntry> {
      try {
        for (let i = 0; i < 10; i++) {
          pulled++;
          yield { name: `${i}.pdf`, data: new Uint8Array(1024 * 1024) };
        }
      } finally {
        closed();
      }
    }
    for await (const _ of zipStream(outputs(), MODIFIED)) break;
    await sourceClosed;
    expect(pulled).toBeLessThanOrEqual(2);
  });

  it("fails the stream when a file cannot be read", async () => {
    async function* failing(): AsyncGenerator<ArchiveEntry> {
      yield { name: "0.png", data: Buffer.from("ok") };
      throw new Error("output 1 is missing");
    }
    const read = async () => {
      for await (const _ of zipStream(failing(), MODIFIED));
    };
    await expect(read()).rejects.toThrow("output 1 is missing");
  });
});
