/**
 * Writing safetensors files, streamed (no tensor needs to be in memory whole)
 * and atomic (a temporary file renamed into place, so a crash or a full disk
 * never leaves a half-written file under the final name).
 *
 * @module
 */
import { writeSync } from 'node:fs';
import { expectArray, expectObject } from './arguments.js';
import { writeAll, writeFileAtomically, writeFileAtomicallySync } from './atomic-write.js';
import { numelOf } from './catalog.js';
import { type DType, dtypeInfo, safetensorsName } from './dtype.js';
import { WeightkitError } from './errors.js';
import { SAFETENSORS_MAX_HEADER_BYTES } from './safetensors.js';

/** Fills `chunk` with the tensor's bytes starting at byte `offset` of the tensor. */
export type TensorFiller = (chunk: Uint8Array, offset: number) => void;

/** One tensor to write. */
export interface SafetensorsWriteEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** The bytes, or a function that produces them chunk by chunk. */
  readonly data: Uint8Array | TensorFiller;
}

/** Options for {@link writeSafetensors}. */
export interface SafetensorsWriteOptions {
  /** Stored as `__metadata__`. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Called after each chunk with bytes written so far and the total. */
  readonly onProgress?: (written: number, total: number) => void;
  /** Chunk size for generated tensors (default 4 MiB). */
  readonly chunkBytes?: number;
}

/** The JSON text of one value, for the header built by hand (so no name can become an object's prototype). */
function jsonMember(key: string, value: unknown): string {
  return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
}

/**
 * Builds the header bytes (length prefix + JSON padded to 8 bytes) and the
 * layout, refusing what the reference reader would refuse: a repeated name,
 * the reserved name `__metadata__`, a sub-byte tensor that does not fill
 * whole bytes, a header over its 100,000,000-byte limit.
 */
export function safetensorsHeaderBytes(
  entries: readonly Pick<SafetensorsWriteEntry, 'name' | 'dtype' | 'shape'>[],
  metadata?: Readonly<Record<string, string>>,
): { header: Buffer; sizes: number[]; dataBytes: number } {
  expectArray(entries, 'the tensors to write');
  entries.forEach((e, i) => expectObject(e, `tensor ${i}`));
  const members: string[] = [];
  if (metadata) {
    expectObject(metadata, 'metadata');
    for (const v of Object.values(metadata)) {
      if (typeof v !== 'string') throw new WeightkitError('WK_BAD_ARGUMENT', 'safetensors metadata values must be strings');
    }
    members.push(jsonMember('__metadata__', metadata));
  }
  const names = new Set<string>();
  const sizes: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const st = safetensorsName(e.dtype);
    if (!st) throw new WeightkitError('WK_UNSUPPORTED', `safetensors cannot store dtype ${e.dtype} (tensor '${e.name}')`);
    if (typeof e.name !== 'string') throw new WeightkitError('WK_BAD_ARGUMENT', 'a tensor name must be a string');
    if (e.name === '__metadata__') throw new WeightkitError('WK_BAD_ARGUMENT', "'__metadata__' is reserved for the metadata in safetensors; rename the tensor");
    if (names.has(e.name)) throw new WeightkitError('WK_BAD_ARGUMENT', `tensor '${e.name}' is given twice`);
    names.add(e.name);
    const bits = numelOf(e.shape, `tensor '${e.name}'`) * BigInt(dtypeInfo(e.dtype).bits);
    if (bits % 8n !== 0n) {
      throw new WeightkitError('WK_BAD_ARGUMENT', `tensor '${e.name}': shape [${e.shape.join(', ')}] of ${e.dtype} does not fill whole bytes, which safetensors readers refuse`);
    }
    const size = Number(bits / 8n);
    members.push(jsonMember(e.name, { dtype: st, shape: e.shape, data_offsets: [offset, offset + size] }));
    sizes.push(size);
    offset += size;
  }
  let text = `{${members.join(',')}}`;
  text += ' '.repeat((8 - ((Buffer.byteLength(text) + 8) % 8)) % 8);
  const body = Buffer.from(text, 'utf8');
  if (body.length > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `the header would be ${body.length} bytes, over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit of safetensors readers`);
  }
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, sizes, dataBytes: offset };
}

/** The file's bytes in order, chunk by chunk, with the running count after each. */
function* fileChunks(entries: readonly SafetensorsWriteEntry[], sizes: number[], header: Uint8Array, chunkBytes: number): Generator<Uint8Array> {
  yield header;
  const chunk = new Uint8Array(chunkBytes);
  for (const [i, e] of entries.entries()) {
    const size = sizes[i]!;
    if (e.data instanceof Uint8Array) {
      if (e.data.byteLength !== size) {
        throw new WeightkitError('WK_BAD_ARGUMENT', `tensor '${e.name}' has ${e.data.byteLength} bytes, its shape and dtype need ${size}`);
      }
      yield e.data;
      continue;
    }
    for (let at = 0; at < size; at += chunk.byteLength) {
      const part = chunk.subarray(0, Math.min(chunk.byteLength, size - at));
      e.data(part, at);
      yield part;
    }
  }
}

function writeAllSync(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/** Writes a safetensors file atomically. Throws WK_NO_SPACE on a full disk (the target is untouched). */
export function writeSafetensors(path: string, entries: readonly SafetensorsWriteEntry[], options: SafetensorsWriteOptions = {}): void {
  const { header, sizes, dataBytes } = safetensorsHeaderBytes(entries, options.metadata);
  writeFileAtomicallySync(path, (fd) => {
    let written = -header.byteLength;
    for (const part of fileChunks(entries, sizes, header, options.chunkBytes ?? 4 << 20)) {
      writeAllSync(fd, part);
      written += part.byteLength;
      if (written > 0) options.onProgress?.(written, dataBytes);
    }
  });
}

/**
 * {@link writeSafetensors} off the event loop's back: each chunk is written
 * asynchronously, and `signal` stops it between chunks (the target is left
 * untouched, the promise rejects with the signal's reason).
 */
export async function writeSafetensorsAsync(
  path: string, entries: readonly SafetensorsWriteEntry[], options: SafetensorsWriteOptions & { readonly signal?: AbortSignal } = {},
): Promise<void> {
  const { signal } = options;
  signal?.throwIfAborted();
  const { header, sizes, dataBytes } = safetensorsHeaderBytes(entries, options.metadata);
  await writeFileAtomically(path, async (fh) => {
    let written = -header.byteLength;
    for (const part of fileChunks(entries, sizes, header, options.chunkBytes ?? 4 << 20)) {
      signal?.throwIfAborted();
      await writeAll(fh, part);
      written += part.byteLength;
      if (written > 0) options.onProgress?.(written, dataBytes);
    }
  }, signal);
}
