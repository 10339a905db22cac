/**
 * safetensors: an 8-byte little-endian header length, a JSON header, then the
 * tensor bytes. Everything is validated before a byte of data is mapped.
 * Format: docs/formats/safetensors.md.
 *
 * @module
 */
import { closeSync, readSync } from 'node:fs';
import { type TensorInfo, WeightCatalog } from './catalog.js';
import { parseSafetensorsJson } from './safetensors-json.js';
import { dtypeFromSafetensors, dtypeInfo, type TypedArray } from './dtype.js';
import { WeightkitError } from './errors.js';
import { openRegular, openRegularSync } from './files.js';
import { realPathOf } from './model-paths.js';
import { FileMapping, type FileMappingOptions } from './mapping.js';
import { CatalogMap, type FileRange, type NamedDataMap } from './named-data-map.js';

/** Largest JSON header accepted: the reference implementation's limit, 100,000,000 bytes (not 100 MiB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

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

// ignoreBOM keeps a byte-order mark in the text, where the JSON parser refuses it as the reference does.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const U64_MAX = 2n ** 64n - 1n;

function bad(message: string): WeightkitError {
  return new WeightkitError('WK_BAD_FORMAT', `safetensors: ${message}`);
}

/** Reads and checks the 8-byte length prefix against the file size. */
export function safetensorsHeaderLength(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.byteLength < 8) throw bad(`file is ${fileSize} bytes, smaller than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds the reference limit of ${SAFETENSORS_MAX_HEADER_BYTES} bytes`);
  if (n > BigInt(fileSize - 8)) throw bad(`header length ${n} is larger than the ${fileSize - 8} bytes that follow it (truncated file?)`);
  if (n < 2n) throw bad(`header length ${n} is too small for a JSON object`);
  return Number(n);
}

/**
 * The reference reader's size rule: the element count and bit count fit 64
 * bits, the bits fill whole bytes, and the entry holds exactly those bytes.
 * Plain numbers while every product stays exact, bigints otherwise.
 */
function checkSize(t: TensorInfo, bits: number): void {
  if (!t.exactShape) {
    let numel = 1;
    for (const d of t.shape) numel *= d;
    const nbits = numel * bits;
    if (Number.isSafeInteger(nbits) && nbits % 8 === 0 && t.byteLength === nbits / 8) return;
  }
  const what = `tensor '${t.name}'`;
  const dims = t.exactShape ?? t.shape;
  let big = 1n;
  for (const d of dims) {
    big *= BigInt(d);
    if (big > U64_MAX) throw bad(`${what}: the element count of shape [${dims.join(', ')}] overflows 64 bits`);
  }
  const bigBits = big * BigInt(bits);
  if (bigBits > U64_MAX) throw bad(`${what}: the size of shape [${dims.join(', ')}] overflows 64 bits`);
  if (bigBits % 8n !== 0n) throw bad(`${what}: ${big} elements of ${t.dtype} do not fill whole bytes (the reference reader refuses such a tensor as misaligned)`);
  if (BigInt(t.byteLength) === bigBits / 8n) return;
  throw bad(`${what}: shape [${dims.join(', ')}] of ${t.dtype} needs ${bigBits / 8n} bytes but its data_offsets hold ${t.byteLength}`);
}

/** An offset the file cannot reach (above 2^53 - 1) becomes Infinity, which no tiling accepts. */
function offset(v: number | bigint): number {
  return typeof v === 'bigint' ? Infinity : v;
}

/**
 * Parses and validates a safetensors JSON header with the reference
 * reader's rules (docs/formats/safetensors.md): a repeated name keeps its
 * last entry; entries sorted by (begin, end) must tile the data section from
 * 0 without gaps or overlaps, each exactly as long as its shape and dtype
 * need (sub-byte dtypes in whole bytes), and `dataLength` is where the last
 * one ends. The catalog lists tensors in header order.
 */
export function parseSafetensorsHeader(header: Uint8Array, dataLength: number): Omit<SafetensorsHeader, 'dataOffset' | 'dataLength'> {
  let text: string;
  try {
    text = utf8.decode(header);
  } catch {
    throw bad('header is not valid UTF-8');
  }
  const raw = parseSafetensorsJson(text);
  const byName = new Map<string, TensorInfo>();
  for (const r of raw.tensors) {
    const dtype = dtypeFromSafetensors(r.dtype);
    const exact = r.shape.some((d) => typeof d === 'bigint');
    const begin = offset(r.begin);
    const info: TensorInfo = Object.freeze({
      name: r.name,
      dtype: dtype.name,
      shape: Object.freeze(exact ? r.shape.map(Number) : (r.shape as number[])),
      ...(exact ? { exactShape: Object.freeze(r.shape.map(BigInt)) } : {}),
      byteOffset: begin,
      byteLength: offset(r.end) - begin,
    });
    byName.set(r.name, info);
  }
  // Writers emit entries in offset order; sort only when they are not.
  const byOffset = (a: TensorInfo, b: TensorInfo) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength;
  const list = [...byName.values()];
  if (!list.every((t, i) => i === 0 || byOffset(list[i - 1]!, t) <= 0)) list.sort(byOffset);
  let cursor = 0;
  for (const t of list) {
    if (t.byteOffset !== cursor || !(t.byteLength >= 0) || !Number.isFinite(t.byteLength)) {
      const what = `tensor '${t.name}'`;
      throw bad(
        !Number.isFinite(t.byteOffset + t.byteLength) ? `${what} has data_offsets beyond 2^53 bytes, which no file holds`
          : t.byteLength < 0 ? `${what} data_offsets end before they begin`
          : t.byteOffset < cursor ? `${what} at byte ${t.byteOffset} overlaps the previous tensor (ends at ${cursor})`
          : `gap before ${what}: it starts at byte ${t.byteOffset}, expected ${cursor}`,
      );
    }
    checkSize(t, dtypeInfo(t.dtype).bits);
    cursor += t.byteLength;
  }
  if (cursor > dataLength) throw bad(`tensors need ${cursor} data bytes but the file holds ${dataLength} (truncated file?)`);
  if (cursor !== dataLength) throw bad(`${dataLength - cursor} trailing bytes after the last tensor`);
  return { catalog: WeightCatalog.adopt(byName), metadata: raw.metadata ? { ...raw.metadata } : {} };
}

/** Reads and validates the header of a safetensors file (no mapping). */
export function readSafetensorsHeaderSync(path: string): SafetensorsHeader {
  const { fd, stat } = openRegularSync(path);
  try {
    const prefix = Buffer.alloc(8);
    readSync(fd, prefix, 0, Math.min(8, stat.size), 0);
    const n = safetensorsHeaderLength(prefix, stat.size);
    const header = Buffer.alloc(n);
    if (readSync(fd, header, 0, n, 8) !== n) throw bad('file shrank while reading its header');
    return { dataOffset: 8 + n, dataLength: stat.size - 8 - n, ...parseSafetensorsHeader(header, stat.size - 8 - n) };
  } finally {
    closeSync(fd);
  }
}

/** Async {@link readSafetensorsHeaderSync}. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const { fh, stat } = await openRegular(path);
  try {
    const prefix = Buffer.alloc(8);
    await fh.read(prefix, 0, Math.min(8, stat.size), 0);
    const n = safetensorsHeaderLength(prefix, stat.size);
    const header = Buffer.alloc(n);
    const { bytesRead } = await fh.read(header, 0, n, 8);
    if (bytesRead !== n) throw bad('file shrank while reading its header');
    return { dataOffset: 8 + n, dataLength: stat.size - 8 - n, ...parseSafetensorsHeader(header, stat.size - 8 - n) };
  } finally {
    await fh.close();
  }
}

/** Options for opening a safetensors file. */
export type SafetensorsOpenOptions = Pick<FileMappingOptions, 'populate' | 'advice'>;

/** A safetensors file as a zero-copy {@link NamedDataMap}. */
export class SafetensorsMap extends CatalogMap {
  readonly format = 'safetensors' as const;
  readonly path: string;
  readonly catalog: WeightCatalog;
  readonly metadata: Readonly<Record<string, string>>;
  /** Where the data section starts in the file. */
  readonly dataOffset: number;
  readonly #mapping: FileMapping;
  /** The file itself, followed through links: what native code reopens. */
  readonly #real: string;

  private constructor(path: string, real: string, header: SafetensorsHeader, mapping: FileMapping) {
    super();
    this.path = path;
    this.#real = real;
    this.catalog = header.catalog;
    this.metadata = header.metadata;
    this.dataOffset = header.dataOffset;
    this.#mapping = mapping;
  }

  /**
   * Opens and validates `path` (followed through symbolic links, as in a hub
   * snapshot), then maps its data section read-only.
   */
  static async open(path: string, options: SafetensorsOpenOptions = {}): Promise<SafetensorsMap> {
    const real = realPathOf(path);
    const header = await readSafetensorsHeader(real);
    const mapping = await FileMapping.open(real, { ...options, offset: header.dataOffset, length: header.dataLength });
    return new SafetensorsMap(path, real, header, mapping);
  }

  /** Synchronous {@link SafetensorsMap.open}. */
  static openSync(path: string, options: SafetensorsOpenOptions = {}): SafetensorsMap {
    const real = realPathOf(path);
    const header = readSafetensorsHeaderSync(real);
    const mapping = FileMapping.openSync(real, { ...options, offset: header.dataOffset, length: header.dataLength });
    return new SafetensorsMap(path, real, header, mapping);
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
    return { path: this.#real, offset: this.dataOffset + t.byteOffset, length: t.byteLength, fileId };
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
}
