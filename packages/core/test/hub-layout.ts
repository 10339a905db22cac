// A real Hugging Face hub cache tree, as huggingface_hub lays it out:
// models--<org>--<name>/{blobs/<sha256>, refs/<branch>, snapshots/<commit>/<file>
// -> ../../blobs/<sha256>} (relative links). Used by the tests of several packages.
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `files` as a snapshot of `repo` (created under `root`) at `commit`, and points `refs/<ref>` at it. */
export function hubSnapshot(root: string, repo: string, commit: string, files: Record<string, Uint8Array | string>, ref = 'main'): { repo: string; snapshot: string } {
  const repoDir = join(root, `models--${repo.replace('/', '--')}`);
  const snapshot = join(repoDir, 'snapshots', commit);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    const sha = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(repoDir, 'blobs', sha), bytes);
    const depth = name.split('/').length - 1;
    if (depth > 0) mkdirSync(join(snapshot, ...name.split('/').slice(0, -1)), { recursive: true });
    symlinkSync(`${'../'.repeat(depth + 2)}blobs/${sha}`, join(snapshot, name));
  }
  writeFileSync(join(repoDir, 'refs', ref), commit);
  return { repo: repoDir, snapshot };
}

/** safetensors bytes of float32 tensors `name -> values` (an independent minimal writer), 1-D unless `shapes` says. */
export function safetensorsBytes(tensors: Record<string, number[]>, shapes: Record<string, number[]> = {}): Buffer {
  const header: Record<string, unknown> = {};
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, values] of Object.entries(tensors)) {
    const data = Buffer.from(new Float32Array(values).buffer);
    header[name] = { dtype: 'F32', shape: shapes[name] ?? [values.length], data_offsets: [offset, offset + data.length] };
    offset += data.length;
    parts.push(data);
  }
  const text = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([len, text, ...parts]);
}

/** The index a sharded save writes. */
export function indexJson(weightMap: Record<string, string>, totalSize: number): string {
  return JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2);
}
