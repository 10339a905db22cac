/**
 * A zip writer for .pt2 packages: every member STORED, its data starting at a
 * 64-byte aligned offset (padding in an "FB" extra field filled with 'Z', as
 * PyTorch's writer does), zip64 when needed or asked for. Members are streamed
 * with their CRC-32 patched into the local header afterwards.
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { WeightkitError } from '@weightkit/core';

const ALIGN = 64;
const U32 = 0xffffffff;

interface Written {
  name: Buffer;
  offset: number;
  size: number;
  crc: number;
  zip64: boolean;
}

/** Produces a member's bytes, chunk by chunk, through `write`. */
export type MemberProducer = (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>;

export class StoredZipWriter {
  readonly #fh: FileHandle;
  readonly #forceZip64: boolean;
  readonly #members: Written[] = [];
  #pos = 0;

  constructor(fh: FileHandle, options: { forceZip64?: boolean } = {}) {
    this.#fh = fh;
    this.#forceZip64 = options.forceZip64 ?? false;
  }

  async #write(bytes: Uint8Array, at = this.#pos): Promise<void> {
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesWritten } = await this.#fh.write(bytes, done, bytes.byteLength - done, at + done);
      done += bytesWritten;
    }
    if (at === this.#pos) this.#pos += bytes.byteLength;
  }

  /** Adds a stored member of exactly `size` bytes and returns its data offset. */
  async add(name: string, size: number, produce: MemberProducer): Promise<number> {
    const nameBytes = Buffer.from(name, 'utf8');
    if (nameBytes.length > 0xffff) throw new WeightkitError('WK_BAD_ARGUMENT', `zip member name too long: ${name}`);
    const offset = this.#pos;
    const zip64 = this.#forceZip64 || size >= U32 || offset >= U32;
    const zip64Extra = zip64 ? 20 : 0; // id, len, usize, csize
    const base = offset + 30 + nameBytes.length + zip64Extra + 4; // + FB header
    const pad = (ALIGN - (base % ALIGN)) % ALIGN;
    const header = Buffer.alloc(30 + nameBytes.length + zip64Extra + 4 + pad);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(zip64 ? 45 : 20, 4);
    header.writeUInt16LE(0x0800, 6); // UTF-8 names
    header.writeUInt16LE(0, 8); // stored
    header.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00, fixed so output is reproducible
    header.writeUInt32LE(0, 14); // CRC, patched below
    header.writeUInt32LE(zip64 ? U32 : size, 18);
    header.writeUInt32LE(zip64 ? U32 : size, 22);
    header.writeUInt16LE(nameBytes.length, 26);
    header.writeUInt16LE(zip64Extra + 4 + pad, 28);
    nameBytes.copy(header, 30);
    let at = 30 + nameBytes.length;
    if (zip64) {
      header.writeUInt16LE(0x0001, at);
      header.writeUInt16LE(16, at + 2);
      header.writeBigUInt64LE(BigInt(size), at + 4);
      header.writeBigUInt64LE(BigInt(size), at + 12);
      at += 20;
    }
    header.write('FB', at, 'latin1');
    header.writeUInt16LE(pad, at + 2);
    header.fill('Z', at + 4);
    await this.#write(header);
    const dataOffset = this.#pos;
    let crc = 0;
    let written = 0;
    await produce(async (chunk) => {
      crc = crc32(chunk, crc);
      written += chunk.byteLength;
      await this.#write(chunk);
    });
    if (written !== size) throw new WeightkitError('WK_BAD_ARGUMENT', `zip member ${name}: ${written} bytes produced, ${size} declared`);
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32LE(crc >>> 0);
    await this.#write(crcBytes, offset + 14);
    this.#members.push({ name: nameBytes, offset, size, crc: crc >>> 0, zip64 });
    return dataOffset;
  }

  /** Adds a small member held in memory. */
  async addBytes(name: string, bytes: Uint8Array): Promise<number> {
    return this.add(name, bytes.byteLength, (write) => write(bytes));
  }

  /** Writes the central directory and end records. */
  async finish(): Promise<void> {
    const cdStart = this.#pos;
    for (const m of this.#members) {
      const extra = m.zip64 ? 28 : 0; // id, len, usize, csize, offset
      const h = Buffer.alloc(46 + m.name.length + extra);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(0x031e, 4); // made by: unix, 3.0
      h.writeUInt16LE(m.zip64 ? 45 : 20, 6);
      h.writeUInt16LE(0x0800, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt32LE(0x00210000, 12);
      h.writeUInt32LE(m.crc, 16);
      h.writeUInt32LE(m.zip64 ? U32 : m.size, 20);
      h.writeUInt32LE(m.zip64 ? U32 : m.size, 24);
      h.writeUInt16LE(m.name.length, 28);
      h.writeUInt16LE(extra, 30);
      h.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      h.writeUInt32LE(m.zip64 ? U32 : m.offset, 42);
      m.name.copy(h, 46);
      if (m.zip64) {
        const at = 46 + m.name.length;
        h.writeUInt16LE(0x0001, at);
        h.writeUInt16LE(24, at + 2);
        h.writeBigUInt64LE(BigInt(m.size), at + 4);
        h.writeBigUInt64LE(BigInt(m.size), at + 12);
        h.writeBigUInt64LE(BigInt(m.offset), at + 20);
      }
      await this.#write(h);
    }
    const cdSize = this.#pos - cdStart;
    const zip64 = this.#forceZip64 || this.#members.some((m) => m.zip64) || cdStart >= U32 || this.#members.length >= 0xffff;
    if (zip64) {
      const recOffset = this.#pos;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(0x06064b50, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(0x031e, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(this.#members.length), 24);
      rec.writeBigUInt64LE(BigInt(this.#members.length), 32);
      rec.writeBigUInt64LE(BigInt(cdSize), 40);
      rec.writeBigUInt64LE(BigInt(cdStart), 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(recOffset), 8);
      loc.writeUInt32LE(1, 16);
      await this.#write(Buffer.concat([rec, loc]));
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(zip64 ? 0xffff : this.#members.length, 8);
    eocd.writeUInt16LE(zip64 ? 0xffff : this.#members.length, 10);
    eocd.writeUInt32LE(zip64 ? U32 : cdSize, 12);
    eocd.writeUInt32LE(zip64 ? U32 : cdStart, 16);
    await this.#write(eocd);
  }
}
