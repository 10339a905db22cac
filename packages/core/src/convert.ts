/**
 * {@link convertToSafetensors}: any {@link NamedDataMap} (PyTorch, sharded,
 * TF.js, AOTI) written as safetensors, streamed and atomic: the Hub's
 * "convert to safetensors" without Python. With `maxShardBytes`, a sharded
 * checkpoint with its index, as transformers' `save_pretrained` writes it.
 * @module
 */
import { basename, dirname, join } from 'node:path';
import { type TensorInfo, numelOf } from './catalog.js';
import { safetensorsName, storageBytes } from './dtype.js';
import { WeightkitError } from './errors.js';
import { writeFileAtomically, writeAll } from './atomic-write.js';
import type { NamedDataMap } from './named-data-map.js';
import { type SafetensorsWriteEntry, writeSafetensorsAsync } from './safetensors-writer.js';

/** Options for {@link convertToSafetensors}. */
export interface ConvertOptions {
  /**
   * Split into shards of at most this many tensor bytes (a larger tensor gets
   * a shard of its own), named `<stem>-0000i-of-0000N.safetensors` beside
   * `out`, with `<stem>.safetensors.index.json`. Default: one file.
   */
  readonly maxShardBytes?: number;
  /** Stops between chunks: what is written so far is removed, the promise rejects with the reason. */
  readonly signal?: AbortSignal;
  /** Called with tensor bytes written so far and the total. */
  readonly onProgress?: (written: number, total: number) => void;
}

/** What {@link convertToSafetensors} wrote. */
export interface ConvertResult {
  /** The safetensors files, in order. */
  readonly files: string[];
  /** The index, when sharded. */
  readonly index?: string;
  readonly tensors: number;
  /** Tensor bytes written. */
  readonly bytes: number;
}

/** The entry for one tensor: a zero-copy view where the map stores it as it is, else its decoded elements on demand. */
function entryOf(map: NamedDataMap, t: TensorInfo): SafetensorsWriteEntry {
  if (safetensorsName(t.dtype) === undefined) {
    throw new WeightkitError('WK_UNSUPPORTED', `tensor '${t.name}' is ${t.dtype}, which safetensors cannot store`);
  }
  const shape = [...t.shape];
  if (!t.quantization && !t.strides) return { name: t.name, dtype: t.dtype, shape, data: map.bytes(t.name) };
  // Decoded or gathered: produced once, when the writer reaches it, and dropped after.
  let bytes: Uint8Array | undefined;
  return {
    name: t.name, dtype: t.dtype, shape,
    data: (chunk, at) => {
      if (at === 0 || !bytes) {
        const v = map.get(t.name);
        bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      }
      chunk.set(bytes.subarray(at, at + chunk.byteLength));
      if (at + chunk.byteLength >= bytes.byteLength) bytes = undefined;
    },
  };
}

/** Greedy shards in catalog order, as transformers splits a state dict. */
function shardsOf(tensors: readonly TensorInfo[], max: number | undefined, bytesOf: (t: TensorInfo) => number): TensorInfo[][] {
  if (max === undefined) return [tensors.slice()];
  const out: TensorInfo[][] = [];
  let current: TensorInfo[] = [];
  let size = 0;
  for (const t of tensors) {
    const b = bytesOf(t);
    if (current.length > 0 && size + b > max) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(t);
    size += b;
  }
  if (current.length > 0 || out.length === 0) out.push(current);
  return out;
}

/**
 * Writes every tensor of `map` as safetensors to `out` (each file atomically;
 * when sharded, the shards first and the index last). Metadata: the map's,
 * plus `format: pt` as transformers expects.
 */
export async function convertToSafetensors(map: NamedDataMap, out: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const { maxShardBytes, signal, onProgress } = options;
  if (maxShardBytes !== undefined && (!Number.isSafeInteger(maxShardBytes) || maxShardBytes <= 0)) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  signal?.throwIfAborted();
  const tensors = [...map.catalog];
  // What each tensor takes once decoded and contiguous (its stored size when it is stored that way).
  const sizes = new Map(tensors.map((t) => [t.name, Number(storageBytes(t.dtype, numelOf(t.shape, `tensor '${t.name}'`)))]));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const groups = shardsOf(tensors, maxShardBytes, (t) => sizes.get(t.name)!);
  const metadata = { format: 'pt', ...map.metadata };
  const stem = basename(out).replace(/\.safetensors$/, '');
  const files = groups.length === 1 && maxShardBytes === undefined
    ? [out]
    : groups.map((_, i) => join(dirname(out), `${stem}-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`));
  let before = 0;
  for (const [i, group] of groups.entries()) {
    const base = before;
    await writeSafetensorsAsync(files[i]!, group.map((t) => entryOf(map, t)), {
      metadata, signal, ...(onProgress ? { onProgress: (done: number) => onProgress(base + done, total) } : {}),
    });
    before += group.reduce((a, t) => a + sizes.get(t.name)!, 0);
  }
  if (files.length === 1 && files[0] === out) return { files, tensors: tensors.length, bytes: total };
  const index = join(dirname(out), `${stem}.safetensors.index.json`);
  const weightMap: Record<string, string> = {};
  groups.forEach((g, i) => g.forEach((t) => (weightMap[t.name] = basename(files[i]!))));
  const text = JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n';
  await writeFileAtomically(index, (fh) => writeAll(fh, Buffer.from(text)), signal);
  return { files, index, tensors: tensors.length, bytes: total };
}
