/**
 * Writing safetensors files, streamed (no tensor needs to be in memory whole)
 * and atomic (a temporary file renamed into place, so a crash or a full disk
 * never leaves a half-written file under the final name).
 *
 * @module
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { numelOf } from './catalog.js';
import { type DType, safetensorsName, storageBytes } from './dtype.js';
import { WeightkitError, fromSystemError } from './errors.js';

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

/** Builds the header bytes (length prefix + JSON padded to 8 bytes) and the layout. */
export function safetensorsHeaderBytes(
  entries: readonly Pick<SafetensorsWriteEntry, 'name' | 'dtype' | 'shape'>[],
  metadata?: Readonly<Record<string, string>>,
): { header: Buffer; sizes: number[]; dataBytes: number } {
  const json: Record<string, unknown> = {};
  if (metadata) json.__metadata__ = metadata;
  const sizes: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const st = safetensorsName(e.dtype);
    if (!st) throw new WeightkitError('WK_UNSUPPORTED', `safetensors cannot store dtype ${e.dtype} (tensor '${e.name}')`);
    if (e.name in json) throw new WeightkitError('WK_BAD_ARGUMENT', `tensor '${e.name}' is given twice`);
    const size = Number(storageBytes(e.dtype, numelOf(e.shape, `tensor '${e.name}'`)));
    json[e.name] = { dtype: st, shape: e.shape, data_offsets: [offset, offset + size] };
    sizes.push(size);
    offset += size;
  }
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - ((Buffer.byteLength(text) + 8) % 8)) % 8);
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, sizes, dataBytes: offset };
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/** Writes a safetensors file atomically. Throws WK_NO_SPACE on a full disk (the target is untouched). */
export function writeSafetensors(path: string, entries: readonly SafetensorsWriteEntry[], options: SafetensorsWriteOptions = {}): void {
  const { header, sizes, dataBytes } = safetensorsHeaderBytes(entries, options.metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    writeAll(fd, header);
    const chunk = new Uint8Array(options.chunkBytes ?? 4 << 20);
    let written = 0;
    entries.forEach((e, i) => {
      const size = sizes[i]!;
      if (e.data instanceof Uint8Array) {
        if (e.data.byteLength !== size) {
          throw new WeightkitError('WK_BAD_ARGUMENT', `tensor '${e.name}' has ${e.data.byteLength} bytes, its shape and dtype need ${size}`);
        }
        writeAll(fd!, e.data);
        written += size;
        options.onProgress?.(written, dataBytes);
        return;
      }
      for (let at = 0; at < size; at += chunk.byteLength) {
        const part = chunk.subarray(0, Math.min(chunk.byteLength, size - at));
        e.data(part, at);
        writeAll(fd!, part);
        written += part.byteLength;
        options.onProgress?.(written, dataBytes);
      }
    });
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* the temporary file may not exist */
    }
    throw fromSystemError(e, `cannot write '${path}'`);
  }
}
