// Every command that takes a <model> takes a hub repository folder holding a
// sharded checkpoint (issue 19): inspect, offload plan and run, cache pack,
// aoti convert, and the bytes each produces are the shards' bytes.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AotiWeights } from '@weightkit/aoti-blob';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { OffloadRuntime } from '@weightkit/cuda-offload';
import { openNamedDataMap } from '@weightkit/core';
import { hubSnapshot, indexJson, safetensorsBytes } from '../../packages/core/test/hub-layout.js';
import { tempDir, weightkit } from './cli-harness.js';

const dir = tempDir('wk-hub-cli-');
const values = (seed: number) => Array.from({ length: 64 * 64 }, (_, i) => Math.sin(seed + i));
const { repo } = hubSnapshot(dir, 'org/tiny', 'c'.repeat(40), {
  'model.safetensors.index.json': indexJson({ 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' }, 2 * 64 * 64 * 4),
  'model-00001-of-00002.safetensors': safetensorsBytes({ 'a.weight': values(1) }, { 'a.weight': [64, 64] }),
  'model-00002-of-00002.safetensors': safetensorsBytes({ 'b.weight': values(2) }, { 'b.weight': [64, 64] }),
});

describe('a sharded checkpoint in a hub cache, through every backend', () => {
  it('inspect lists both shards\' tensors', () => {
    const r = weightkit('inspect', repo, '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { format: string; tensors: { name: string }[] };
    expect(doc.format).toBe('safetensors-sharded');
    expect(doc.tensors.map((t) => t.name)).toEqual(['a.weight', 'b.weight']);
  });

  it('offload plan and an emulated run stream the shards\' bytes', async () => {
    const r = weightkit('offload', 'plan', repo, '--budget-mb', '1', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).totalBytes).toBe(2 * 64 * 64 * 4);
    const map = await openNamedDataMap(repo);
    const rt = await OffloadRuntime.create({ weights: map, budgetMb: 0.04, device: 'emu' });
    await rt.runPasses(2);
    for (const [i, name] of ['a.weight', 'b.weight'].entries()) {
      rt.acquire(i);
      expect(Buffer.from(rt.readBack(name)).equals(Buffer.from(map.bytes(name)))).toBe(true);
      rt.release(i);
    }
    await rt.close();
    map.close();
  });

  it('cache pack packs every tensor of both shards', async () => {
    const cache = join(dir, 'hub.xpwc');
    const r = weightkit('cache', 'pack', repo, '--cache', cache, '--json');
    expect(r.code, r.stderr).toBe(0);
    const info = await PackedWeightsCache.inspectFile(cache);
    expect(info.entries.map((e) => e.name).filter((n) => !n.startsWith('__')).sort()).toEqual(['a.weight', 'b.weight']);
  });

  it('aoti convert writes the shards\' bytes', async () => {
    const out = join(dir, 'hub.pt2');
    const r = weightkit('aoti', 'convert', repo, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const w = await AotiWeights.open(out);
    expect([...w.get('b.weight') as Float32Array].slice(0, 3)).toEqual(values(2).slice(0, 3).map(Math.fround));
    w.close();
  });
});

describe('a pytorch_model.bin (written by the real torch.save) through every backend', () => {
  const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch']).status === 0;
  it.runIf(hasTorch || process.env.WEIGHTKIT_CI_REQUIRE_TORCH === '1')('inspect, offload plan, cache pack and aoti convert read it; the bytes are torch\'s', async () => {
    expect(hasTorch, 'python3-torch is required here').toBe(true);
    const bin = join(dir, 'pytorch_model.bin');
    const r = spawnSync('/usr/bin/python3', ['-c', `import sys, torch\ntorch.save({'a.weight': torch.arange(4096.).reshape(64, 64), 'b.weight': torch.ones(64, 64) * 2}, sys.argv[1])`, bin], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const inspect = weightkit('inspect', bin, '--json');
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout).format).toBe('pytorch');
    expect(weightkit('offload', 'plan', bin, '--budget-mb', '1').code).toBe(0);
    const cache = join(dir, 'bin.xpwc');
    expect(weightkit('cache', 'pack', bin, '--cache', cache).code).toBe(0);
    expect((await PackedWeightsCache.inspectFile(cache)).entries.map((e) => e.name)).toEqual(expect.arrayContaining(['a.weight', 'b.weight']));
    const pt2 = join(dir, 'bin.pt2');
    expect(weightkit('aoti', 'convert', bin, '--out', pt2).code).toBe(0);
    const w = await AotiWeights.open(pt2);
    expect([...(w.get('a.weight') as Float32Array).slice(0, 3)]).toEqual([0, 1, 2]);
    w.close();
  });
});
