/**
 * Sparse model snapshots for benchmarks at sizes no disk holds: a Hugging Face
 * style sharded safetensors folder (`model-0000i-of-0000N.safetensors` +
 * `model.safetensors.index.json`) whose shards are real headers over holes
 * (ftruncate), so a terabyte model takes a few kilobytes of disk. Reading the
 * data gives zeros.
 * @module
 */
import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One tensor: name, safetensors dtype, shape. */
export type SparseTensor = readonly [name: string, dtype: 'BF16' | 'F16' | 'F32', shape: readonly number[]];

const ITEM = { BF16: 2, F16: 2, F32: 4 } as const;

/** Bytes of one tensor. */
export function sparseTensorBytes([, dtype, shape]: SparseTensor): number {
  return shape.reduce((a, b) => a * b, 1) * ITEM[dtype];
}

/**
 * Writes `tensors` in order into shards of at most `maxShardBytes` of data
 * each (a tensor larger than that gets a shard of its own), as
 * transformers' save_pretrained splits them. Kept when the index is already
 * there (same arguments, same folder).
 */
export function writeSparseSnapshot(folder: string, tensors: readonly SparseTensor[], maxShardBytes: number): { folder: string; bytes: number; tensors: number; shards: number } {
  const total = tensors.reduce((a, t) => a + sparseTensorBytes(t), 0);
  const shards: SparseTensor[][] = [[]];
  let acc = 0;
  for (const t of tensors) {
    if (acc + sparseTensorBytes(t) > maxShardBytes && shards.at(-1)!.length) {
      shards.push([]);
      acc = 0;
    }
    shards.at(-1)!.push(t);
    acc += sparseTensorBytes(t);
  }
  const index = join(folder, 'model.safetensors.index.json');
  if (existsSync(index)) return { folder, bytes: total, tensors: tensors.length, shards: shards.length };
  mkdirSync(folder, { recursive: true });
  const weightMap: Record<string, string> = {};
  const width = Math.max(5, String(shards.length).length);
  shards.forEach((list, i) => {
    const name = `model-${String(i + 1).padStart(width, '0')}-of-${String(shards.length).padStart(width, '0')}.safetensors`;
    const header: Record<string, unknown> = {};
    let off = 0;
    for (const t of list) {
      header[t[0]] = { dtype: t[1], shape: t[2], data_offsets: [off, off + sparseTensorBytes(t)] };
      off += sparseTensorBytes(t);
      weightMap[t[0]] = name;
    }
    const text = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    const path = join(folder, name);
    writeFileSync(path, Buffer.concat([len, text]));
    truncateSync(path, 8 + text.length + off);
  });
  // Written last: its presence means the folder is complete.
  writeFileSync(index, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }));
  return { folder, bytes: total, tensors: tensors.length, shards: shards.length };
}
