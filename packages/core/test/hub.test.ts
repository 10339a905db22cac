// Models the way they lie on a user's disk (issue 19): a real hub cache tree
// (blobs named by their sha256, relative links, refs/main), sharded
// safetensors with their index, model folders, and the links a hostile folder
// could plant.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShardedMap, WeightkitError, openNamedDataMap, openNamedDataMapSync } from '@weightkit/core';
import { openError, tempDir, warningsDuring } from './helpers.js';
import { hubSnapshot, indexJson, safetensorsBytes } from './hub-layout.js';

const root = tempDir('wk-hub-');
const COMMIT = 'a'.repeat(40);
const OTHER = 'b'.repeat(40);
const values = (seed: number, n = 64) => Array.from({ length: n }, (_, i) => seed * 1000 + i);
const shard1 = safetensorsBytes({ 'model.embed.weight': values(1), 'model.layers.0.w': values(2) });
const shard2 = safetensorsBytes({ 'model.layers.1.w': values(3), 'lm_head.weight': values(4) });
const weightMap = {
  'model.embed.weight': 'model-00001-of-00002.safetensors', 'model.layers.0.w': 'model-00001-of-00002.safetensors',
  'model.layers.1.w': 'model-00002-of-00002.safetensors', 'lm_head.weight': 'model-00002-of-00002.safetensors',
};
const { repo, snapshot } = hubSnapshot(root, 'org/sharded', COMMIT, {
  'config.json': '{"model_type": "llama"}',
  'model.safetensors.index.json': indexJson(weightMap, 4 * 64 * 4),
  'model-00001-of-00002.safetensors': shard1,
  'model-00002-of-00002.safetensors': shard2,
});
// A second revision with one unsharded file, reached by a tag.
hubSnapshot(root, 'org/sharded', OTHER, { 'model.safetensors': safetensorsBytes({ only: values(9, 4) }) }, 'v2');

function expectAll(map: { keys(): string[]; get(n: string): ArrayLike<number> }) {
  expect(map.keys()).toEqual(Object.keys(weightMap));
  expect([...map.get('model.embed.weight')]).toEqual(values(1));
  expect([...map.get('lm_head.weight')]).toEqual(values(4));
}

describe('a hub cache as users have it', () => {
  it('opens the repository folder (the snapshot refs/main names), a sharded checkpoint as one map', async () => {
    const map = await openNamedDataMap(repo);
    expect(map.format).toBe('safetensors-sharded');
    expect(map.path).toBe(join(snapshot, 'model.safetensors.index.json'));
    expectAll(map);
    expect(map.info('lm_head.weight').storage).toBe('model-00002-of-00002.safetensors');
    map.close();
  });

  it('opens the snapshot folder, the index, one shard and a file through its link, as the user names them', () => {
    for (const path of [snapshot, join(snapshot, 'model.safetensors.index.json')]) {
      const map = openNamedDataMapSync(path);
      expectAll(map);
      map.close();
    }
    const one = openNamedDataMapSync(join(snapshot, 'model-00002-of-00002.safetensors'));
    expect(one.keys()).toEqual(['model.layers.1.w', 'lm_head.weight']);
    expect(one.location!('lm_head.weight')!.path).toMatch(/\/blobs\/[0-9a-f]{64}$/);
    one.close();
  });

  it('--revision: a tag in refs/, a commit in snapshots/; an unknown one lists what there is', () => {
    const v2 = openNamedDataMapSync(repo, { revision: 'v2' });
    expect(v2.keys()).toEqual(['only']);
    v2.close();
    const byCommit = openNamedDataMapSync(repo, { revision: COMMIT });
    expect(byCommit.keys()).toHaveLength(4);
    byCommit.close();
    expect(() => openNamedDataMapSync(repo, { revision: 'v3' })).toThrowError(expect.objectContaining({
      code: 'WK_NOT_FOUND', message: expect.stringMatching(/no snapshot for revision 'v3' \(refs: main, v2; snapshots: a+, b+\)/),
    }));
    expect(() => openNamedDataMapSync(repo, { revision: '../../etc' })).toThrowError(expect.objectContaining({ code: 'WK_BAD_ARGUMENT' }));
    expect(() => openNamedDataMapSync(snapshot, { revision: 'v2' })).toThrowError(expect.objectContaining({ code: 'WK_BAD_ARGUMENT' }));
  });

  it('weights: picks another file of the folder; one it does not hold is WK_NOT_FOUND listing what it holds', () => {
    const one = openNamedDataMapSync(snapshot, { weights: 'model-00001-of-00002.safetensors' });
    expect(one.keys()).toEqual(['model.embed.weight', 'model.layers.0.w']);
    one.close();
    expect(() => openNamedDataMapSync(snapshot, { weights: 'nope.bin' })).toThrowError(expect.objectContaining({
      code: 'WK_NOT_FOUND', message: expect.stringContaining('config.json, model-00001-of-00002.safetensors'),
    }));
  });

  it('maps a shard on first use and unmaps every shard with the map', () => {
    const map = openNamedDataMapSync(repo) as ShardedMap;
    expect(map.shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(map.mappedShards).toBe(0);
    const v = map.get('model.layers.1.w');
    expect(map.mappedShards).toBe(1);
    expect(v.length).toBe(64);
    map.close();
    expect(map.mappedShards).toBe(0);
    expect(v.length).toBe(0); // detached, never dangling
    expect(() => map.get('lm_head.weight')).toThrowError(expect.objectContaining({ code: 'WK_CLOSED' }));
  });

  it('a folder with nothing weightkit reads is WK_NOT_FOUND listing what it holds', async () => {
    const empty = join(root, 'not-a-model');
    mkdirSync(join(empty, 'sub'), { recursive: true });
    writeFileSync(join(empty, 'README.md'), '# hi');
    await expect(openNamedDataMap(empty)).rejects.toMatchObject({ code: 'WK_NOT_FOUND', message: expect.stringMatching(/holds no weights weightkit reads .*it holds: README\.md, sub\//) });
  });

  it('a hub TF.js model (model.json and shard links) opens', () => {
    const bin = Buffer.from(new Float32Array(values(5, 8)).buffer);
    const { snapshot: tf } = hubSnapshot(root, 'org/tfjs', COMMIT, {
      'model.json': JSON.stringify({ weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'dense/kernel', shape: [8], dtype: 'float32' }] }] }),
      'group1-shard1of1.bin': bin,
    });
    const map = openNamedDataMapSync(tf);
    expect(map.format).toBe('tfjs');
    expect([...map.get('dense/kernel')]).toEqual(values(5, 8));
    map.close();
  });
});

describe('what a file names stays inside the model folder (a hostile folder or archive with links)', () => {
  /** A plain model folder holding `files`, with `links` name -> target. */
  function folder(name: string, files: Record<string, string | Uint8Array>, links: Record<string, string> = {}): string {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, f), c);
    for (const [l, t] of Object.entries(links)) symlinkSync(t, join(dir, l));
    return dir;
  }
  const secret = join(root, 'secret.safetensors');
  writeFileSync(secret, safetensorsBytes({ secret: [42] }));

  const cases: [string, () => string, string, RegExp][] = [
    ['an index shard linked to a file outside the folder', () => folder('out-link', { 'model.safetensors.index.json': indexJson({ secret: 'model-00001.safetensors' }, 4) }, { 'model-00001.safetensors': secret }),
      'WK_BAD_FORMAT', /shard of .*model-00001.safetensors' is a link to '.*secret.safetensors', outside the model's folder/],
    ['a chosen model.safetensors linked outside', () => folder('out-chosen', {}, { 'model.safetensors': secret }), 'WK_BAD_FORMAT', /the model file .*is a link to .*outside the model's folder/],
    ['a shard name with ..', () => folder('dotdot', { 'model.safetensors.index.json': indexJson({ secret: '../secret.safetensors' }, 4) }), 'WK_BAD_FORMAT', /leaves the model's folder/],
    ['an absolute shard name', () => folder('absolute', { 'model.safetensors.index.json': indexJson({ secret }, 4) }), 'WK_BAD_FORMAT', /leaves the model's folder/],
    ['a missing shard', () => folder('missing', { 'model.safetensors.index.json': indexJson({ a: 'model-00002.safetensors' }, 4) }), 'WK_NOT_FOUND', /model-00002.safetensors' is missing/],
    ['a tensor the index names but its shard lacks', () => folder('lacks', {
      'model.safetensors.index.json': indexJson({ a: 's1.safetensors', b: 's1.safetensors' }, 8), 's1.safetensors': safetensorsBytes({ a: [1] }),
    }), 'WK_BAD_FORMAT', /places tensor 'b' in 's1.safetensors', which does not hold it/],
    ['a tensor in two shards', () => folder('twice', {
      'model.safetensors.index.json': indexJson({ a: 's1.safetensors', b: 's2.safetensors' }, 8),
      's1.safetensors': safetensorsBytes({ a: [1] }), 's2.safetensors': safetensorsBytes({ a: [1], b: [2] }),
    }), 'WK_BAD_FORMAT', /tensor 'a' is in shard '.*s2.safetensors' but the index .* places it in 's1.safetensors'/],
  ];
  for (const [what, make, code, message] of cases) {
    it(`${what}: ${code}`, () => {
      const dir = make();
      const err = openError(dir);
      expect(err).toBeInstanceOf(WeightkitError);
      expect(err).toMatchObject({ code, message: expect.stringMatching(message) });
    });
  }

  it('metadata.total_size is not checked, as transformers does not check it', () => {
    const dir = folder('total', { 'model.safetensors.index.json': indexJson({ a: 's1.safetensors' }, 1000), 's1.safetensors': safetensorsBytes({ a: [1] }) });
    const map = openNamedDataMapSync(dir);
    expect([...map.get('a')]).toEqual([1]);
    map.close();
  });

  it('a link inside the folder, and a hub snapshot link into its own blobs/, are followed', () => {
    const dir = folder('inside-link', { 'real.safetensors': safetensorsBytes({ a: [1], b: [2] }), 'model.safetensors.index.json': indexJson({ a: 'alias.safetensors', b: 'alias.safetensors' }, 8) }, { 'alias.safetensors': 'real.safetensors' });
    const map = openNamedDataMapSync(dir);
    expect([...map.get('b')]).toEqual([2]);
    map.close();
  });

  it('tensors a shard holds but the index does not name are ignored, with one warning', async () => {
    const dir = folder('unlisted', { 'model.safetensors.index.json': indexJson({ a: 's1.safetensors' }, 4), 's1.safetensors': safetensorsBytes({ a: [1], extra: [2] }) });
    const warnings = await warningsDuring(() => {
      const map = openNamedDataMapSync(dir);
      expect(map.keys()).toEqual(['a']);
      map.close();
      openNamedDataMapSync(dir).close();
    });
    expect(warnings.filter((w) => w.includes('not in its weight_map'))).toHaveLength(1);
  });
});
