// `weightkit convert <model> --to safetensors` (issue 19): a hub repository
// folder of safetensors shards to one file and back to shards, read back
// tensor by tensor.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNamedDataMapSync } from '@weightkit/core';
import { hubSnapshot, indexJson, safetensorsBytes } from '../../packages/core/test/hub-layout.js';
import { tempDir, weightkit } from './cli-harness.js';

const dir = tempDir('wk-convert-cli-');
const values = (seed: number) => Array.from({ length: 32 * 32 }, (_, i) => seed + i / 7);
const names = ['a.weight', 'b.weight', 'c.weight'];
const { repo } = hubSnapshot(dir, 'org/conv', 'd'.repeat(40), {
  'model.safetensors.index.json': indexJson({ 'a.weight': 's1.safetensors', 'b.weight': 's1.safetensors', 'c.weight': 's2.safetensors' }, 3 * 4096),
  's1.safetensors': safetensorsBytes({ 'a.weight': values(1), 'b.weight': values(2) }, { 'a.weight': [32, 32], 'b.weight': [32, 32] }),
  's2.safetensors': safetensorsBytes({ 'c.weight': values(3) }, { 'c.weight': [32, 32] }),
});

describe('weightkit convert --to safetensors', () => {
  it('a sharded hub checkpoint to one file, then to shards of at most 8 KiB with an index', () => {
    const one = join(dir, 'one.safetensors');
    const r = weightkit('convert', repo, '--to', 'safetensors', '--out', one, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ files: [one], tensors: 3, bytes: 3 * 4096 });
    const src = openNamedDataMapSync(repo);
    const single = openNamedDataMapSync(one);
    for (const n of names) expect(Buffer.from(single.bytes(n)).equals(Buffer.from(src.bytes(n)))).toBe(true);
    single.close();
    const shards = join(dir, 'model.safetensors');
    const s = weightkit('convert', one, '--to', 'safetensors', '--out', shards, '--max-shard-size', '8KiB', '--json');
    expect(s.code, s.stderr).toBe(0);
    const doc = JSON.parse(s.stdout) as { files: string[]; index: string };
    expect(doc.files.map((f) => f.split('/').pop())).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(doc.index).toBe(join(dir, 'model.safetensors.index.json'));
    const back = openNamedDataMapSync(dir, { weights: 'model.safetensors.index.json' });
    expect(back.keys()).toEqual(names);
    for (const n of names) expect(Buffer.from(back.bytes(n)).equals(Buffer.from(src.bytes(n)))).toBe(true);
    back.close();
    src.close();
  });

  it('refuses another --to, a missing --out and a bad shard size, naming the option', () => {
    expect(weightkit('convert', repo, '--to', 'pt2', '--out', join(dir, 'x')).stderr).toMatch(/^error\[WK_BAD_ARGUMENT\]: --to must be safetensors, got 'pt2'/);
    expect(weightkit('convert', repo, '--to', 'safetensors').stderr).toMatch(/--out is required/);
    expect(weightkit('convert', repo, '--to', 'safetensors', '--out', join(dir, 'y.safetensors'), '--max-shard-size', 'big').stderr).toMatch(/--max-shard-size must be a size/);
  });
});
