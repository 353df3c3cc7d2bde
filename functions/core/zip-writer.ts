import { crc32 } from "node:zlib";

/**
 * A streaming writer of "stored" (uncompressed) zip archives. Rendered PNG, JPEG, WebP and PDF files are
 * compressed already, so deflating them again costs CPU for a few percent. Each entry is emitted as soon
 * as it is added, so an archive of thousands of outputs never has to sit in memory whole.
 *
 * Classic zip only (no ZIP64): at most 65,535 entries and offsets below 4 GiB; `add` throws a
 * ZipLimitError before either would be exceeded.
 */
const ZIP_LIMITS = { maxEntries: 0xffff, maxBytes: 0xffffffff } as const;

export class ZipLimitError extends Error {}

interface CentralEntry {
  readonly name: Buffer;
  readonly crc: number;
  readonly size: number;
  readonly offset: number;
}

const UTF8_NAMES = 1 << 11;
const VERSION_STORED = 10;

export class ZipWriter {
  readonly #entries: CentralEntry[] = [];
  #offset = 0;
  readonly #time: number;
  readonly #date: number;

  /** `modified`: the timestamp every entry gets (a fixed one keeps archives byte-identical). */
  constructor(modified: Date) {
    const year = Math.max(1980, modified.getUTCFullYear());
    this.#time =
      (modified.getUTCHours() << 11) | (modified.getUTCMinutes() << 5) | (modified.getUTCSeconds() >> 1);
    this.#date = ((year - 1980) << 9) | ((modified.getUTCMonth() + 1) << 5) | modified.getUTCDate();
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#offset;
  }

  /** The local header and the data of one file; write them in order. */
  add(name: string, data: Uint8Array): Uint8Array[] {
    const encodedName = Buffer.from(name, "utf8");
    if (this.#entries.length >= ZIP_LIMITS.maxEntries) {
      throw new ZipLimitError(`a zip holds at most ${ZIP_LIMITS.maxEntries} files`);
    }
    const projected = this.#offset + 30 + encodedName.length + data.byteLength;
    if (projected + 46 * (this.#entries.length + 1) + 22 > ZIP_LIMITS.maxBytes) {
      throw new ZipLimitError("the zip would exceed 4 GiB");
    }
    const crc = crc32(data);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(VERSION_STORED, 4);
    header.writeUInt16LE(UTF8_NAMES, 6);
    header.writeUInt16LE(0, 8); // stored
    header.writeUInt16LE(this.#time, 10);
    header.writeUInt16LE(this.#date, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(data.byteLength, 18);
    header.writeUInt32LE(data.byteLength, 22);
    header.writeUInt16LE(encodedName.length, 26);
    header.writeUInt16LE(0, 28);
    this.#entries.push({ name: encodedName, crc, size: data.byteLength, offset: this.#offset });
    this.#offset = projected;
    return [header, encodedName, data];
  }

  /** The central directory and its end record; the archive is complete after these bytes. */
  finish(): Uint8Array {
    const parts: Buffer[] = [];
    let directorySize = 0;
    for (const e of this.#entries) {
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(VERSION_STORED, 4); // made by (MS-DOS attributes)
      h.writeUInt16LE(VERSION_STORED, 6);
      h.writeUInt16LE(UTF8_NAMES, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt16LE(this.#time, 12);
      h.writeUInt16LE(this.#date, 14);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(e.size, 20);
      h.writeUInt32LE(e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      // extra, comment, disk, internal and external attributes: all zero
      h.writeUInt32LE(e.offset, 42);
      parts.push(h, e.name);
      directorySize += h.length + e.name.length;
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.#entries.length, 8);
    end.writeUInt16LE(this.#entries.length, 10);
    end.writeUInt32LE(directorySize, 12);
    end.writeUInt32LE(this.#offset, 16);
    parts.push(end);
    this.#offset += directorySize + end.length;
    return Buffer.concat(parts);
  }
}
