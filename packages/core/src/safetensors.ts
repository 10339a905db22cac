/**
 * safetensors: an 8-byte little-endian header length, a JSON header, then the
 * tensor bytes. Everything is validated before a byte of data is mapped.
 * Format: docs/formats/safetensors.md.
 *
 * @module
 */
import { constants as fsc, openSync, closeSync, readSync, fstatSync, promises as fsp } from 'node:fs';
import { type TensorInfo, WeightCatalog } from './catalog.js';
import { dtypeFromSafetensors, type TypedArray } from './dtype.js';
import { WeightkitError, fromSystemError } from './errors.js';
import { FileMapping, type FileMappingOptions } from './mapping.js';
import type { FileRange, NamedDataMap } from './named-data-map.js';

/** Largest JSON header accepted (the reference implementation's limit). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** A parsed, validated safetensors header. */
export interface SafetensorsHeader {
  /** Byte offset of the data section in the file (8 + header length). */
  readonly dataOffset: number;
  /** Bytes in the data section. */
  readonly dataLength: number;
  /** Tensors with byteOffset relative to the data section, in file order. */
  readonly catalog: WeightCatalog;
  /** `__metadata__`, string to string. */
  readonly metadata: Readonly<Record<string, string>>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bad(message: string): WeightkitError {
  return new WeightkitError('WK_BAD_FORMAT', `safetensors: ${message}`);
}

/** Reads and checks the 8-byte length prefix against the file size. */
export function safetensorsHeaderLength(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.byteLength < 8) throw bad(`file is ${fileSize} bytes, smaller than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) throw bad(`header length ${n} is larger than the ${fileSize - 8} bytes that follow it (truncated file?)`);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit`);
  if (n < 2n) throw bad(`header length ${n} is too small for a JSON object`);
  return Number(n);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates a safetensors JSON header. `dataLength` is the size of
 * the data section; offsets must tile it exactly, in order, without gaps.
 */
export function parseSafetensorsHeader(header: Uint8Array, dataLength: number): Omit<SafetensorsHeader, 'dataOffset' | 'dataLength'> {
  let text: string;
  try {
    text = utf8.decode(header);
  } catch {
    throw bad('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw bad('header is not a JSON object');

  let metadata: Record<string, string> = {};
  const entries: TensorInfo[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (!name.isWellFormed()) throw bad('a tensor name is not well-formed Unicode');
    if (name === '__metadata__') {
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw bad('__metadata__ must be an object of strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (!isPlainObject(value)) throw bad(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string') throw bad(`entry '${name}' has no dtype`);
    if (!Array.isArray(shape)) throw bad(`entry '${name}' has no shape array`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw bad(`entry '${name}' data_offsets must be two non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw bad(`entry '${name}' data_offsets [${begin}, ${end}] end before they begin`);
    entries.push({
      name,
      dtype: dtypeFromSafetensors(dtype).name,
      shape: shape as number[],
      byteOffset: begin,
      byteLength: end - begin,
    });
  }

  // The reference format requires the entries to tile the data section.
  const sorted = [...entries].sort((a, b) => a.byteOffset - b.byteOffset);
  let cursor = 0;
  for (const t of sorted) {
    if (t.byteOffset !== cursor) {
      throw bad(
        t.byteOffset < cursor
          ? `tensor '${t.name}' at byte ${t.byteOffset} overlaps the previous tensor (ends at ${cursor})`
          : `gap before tensor '${t.name}': it starts at byte ${t.byteOffset}, expected ${cursor}`,
      );
    }
    cursor += t.byteLength;
  }
  if (cursor > dataLength) throw bad(`tensors need ${cursor} data bytes but the file holds ${dataLength} (truncated file?)`);
  if (cursor !== dataLength) throw bad(`${dataLength - cursor} trailing bytes after the last tensor`);

  const catalog = new WeightCatalog(entries, { bounds: dataLength });
  return { catalog, metadata };
}

// libuv already opens with O_CLOEXEC; O_NOFOLLOW keeps a symlink from redirecting us.
function openNoFollow(path: string): number {
  try {
    return openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
}

function requireFile(isFile: boolean, path: string): void {
  if (!isFile) throw new WeightkitError('WK_BAD_ARGUMENT', `'${path}' is not a regular file`);
}

/** Reads and validates the header of a safetensors file (no mapping). */
export function readSafetensorsHeaderSync(path: string): SafetensorsHeader {
  const fd = openNoFollow(path);
  try {
    const st = fstatSync(fd);
    requireFile(st.isFile(), path);
    const prefix = Buffer.alloc(8);
    readSync(fd, prefix, 0, Math.min(8, st.size), 0);
    const n = safetensorsHeaderLength(prefix, st.size);
    const header = Buffer.alloc(n);
    if (readSync(fd, header, 0, n, 8) !== n) throw bad('file shrank while reading its header');
    return { dataOffset: 8 + n, dataLength: st.size - 8 - n, ...parseSafetensorsHeader(header, st.size - 8 - n) };
  } finally {
    closeSync(fd);
  }
}

/** Async {@link readSafetensorsHeaderSync}. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  try {
    const st = await fh.stat();
    requireFile(st.isFile(), path);
    const prefix = Buffer.alloc(8);
    await fh.read(prefix, 0, Math.min(8, st.size), 0);
    const n = safetensorsHeaderLength(prefix, st.size);
    const header = Buffer.alloc(n);
    const { bytesRead } = await fh.read(header, 0, n, 8);
    if (bytesRead !== n) throw bad('file shrank while reading its header');
    return { dataOffset: 8 + n, dataLength: st.size - 8 - n, ...parseSafetensorsHeader(header, st.size - 8 - n) };
  } finally {
    await fh.close();
  }
}

/** Options for opening a safetensors file. */
export type SafetensorsOpenOptions = Pick<FileMappingOptions, 'populate' | 'advice'>;

/** A safetensors file as a zero-copy {@link NamedDataMap}. */
export class SafetensorsMap implements NamedDataMap {
  readonly format = 'safetensors' as const;
  readonly path: string;
  readonly catalog: WeightCatalog;
  readonly metadata: Readonly<Record<string, string>>;
  /** Where the data section starts in the file. */
  readonly dataOffset: number;
  readonly #mapping: FileMapping;

  private constructor(path: string, header: SafetensorsHeader, mapping: FileMapping) {
    this.path = path;
    this.catalog = header.catalog;
    this.metadata = header.metadata;
    this.dataOffset = header.dataOffset;
    this.#mapping = mapping;
  }

  /** Opens and validates `path`, then maps its data section read-only. */
  static async open(path: string, options: SafetensorsOpenOptions = {}): Promise<SafetensorsMap> {
    const header = await readSafetensorsHeader(path);
    const mapping = await FileMapping.open(path, { ...options, offset: header.dataOffset, length: header.dataLength });
    return new SafetensorsMap(path, header, mapping);
  }

  /** Synchronous {@link SafetensorsMap.open}. */
  static openSync(path: string, options: SafetensorsOpenOptions = {}): SafetensorsMap {
    const header = readSafetensorsHeaderSync(path);
    const mapping = FileMapping.openSync(path, { ...options, offset: header.dataOffset, length: header.dataLength });
    return new SafetensorsMap(path, header, mapping);
  }

  keys(): string[] {
    return this.catalog.names();
  }

  info(name: string) {
    return this.catalog.get(name);
  }

  bytes(name: string): Uint8Array {
    const t = this.catalog.get(name);
    return this.#mapping.bytes(t.byteOffset, t.byteLength);
  }

  get(name: string): TypedArray {
    const t = this.catalog.get(name);
    return this.#mapping.typed(t.dtype, t.byteOffset, t.byteLength);
  }

  location(name: string): FileRange {
    const t = this.catalog.get(name);
    const fileId = this.#mapping.fileId;
    if (fileId === undefined) throw new WeightkitError('WK_CLOSED', `the safetensors map of '${this.path}' was closed; reopen it`);
    return { path: this.path, offset: this.dataOffset + t.byteOffset, length: t.byteLength, fileId };
  }

  get copiedBytes(): number {
    return this.#mapping.copiedBytes;
  }

  get closed(): boolean {
    return this.#mapping.closed;
  }

  close(): void {
    this.#mapping.close();
  }
  /** `using`: closes at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }


  [Symbol.iterator](): Iterator<import('./catalog.js').TensorInfo> {
    return this.catalog[Symbol.iterator]();
  }
}
