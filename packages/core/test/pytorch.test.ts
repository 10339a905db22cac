// PyTorch checkpoints against PyTorch itself (issue 19): Debian's
// python3-torch writes them with the real torch.save (every dtype, shared
// storages with offsets, views, non-contiguous tensors, scalars, empty
// tensors, nested dicts, a module's state dict, pickle protocols 2 to 5, a
// sharded save) and torch.load says what they hold; weightkit must give the
// same names, dtypes, shapes and bytes. Hostile pickles are refused without
// any side effect.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PyTorchMap, ShardedMap, WeightkitError, convertToSafetensors, openNamedDataMapSync, unpickleStateDict } from '@weightkit/core';
import { openError, tempDir } from './helpers.js';

const dir = tempDir('wk-pytorch-');
/** Debian's own python3, where python3-torch installs torch (a pyenv python3 first on PATH does not see it). */
const DEBIAN_PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(DEBIAN_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
// CI installs python3-torch and sets this, so a missing install fails instead of skipping.
const requireTorch = process.env.WEIGHTKIT_CI_REQUIRE_TORCH === '1';

interface Expected { path: string; tensors: Record<string, { dtype: string; shape: number[]; bytes: string }> }

describe('torch.save files read as torch.load reads them', () => {
  it.runIf(hasTorch || requireTorch)('every tensor of every case: names, dtypes, shapes and bytes (the oracle: python3-torch), and convert --to safetensors', async () => {
    expect(hasTorch, `python3-torch is required here (${DEBIAN_PYTHON} -c 'import torch' failed); apt-get install python3-torch`).toBe(true);
    const out = join(dir, 'oracle');
    mkdirSync(out);
    const r = spawnSync(DEBIAN_PYTHON, [join(import.meta.dirname, 'fixtures', 'torch_oracle.py'), out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { files } = JSON.parse(readFileSync(join(out, 'expected.json'), 'utf8')) as { files: Record<string, Expected> };
    let tensors = 0;
    for (const [key, want] of Object.entries(files)) {
      const map = openNamedDataMapSync(want.path);
      expect(map.format, key).toBe(key === 'sharded' ? 'pytorch-sharded' : 'pytorch');
      expect(map.keys(), key).toEqual(Object.keys(want.tensors));
      for (const [name, t] of Object.entries(want.tensors)) {
        const info = map.info(name);
        expect(info.dtype, `${key} ${name}`).toBe(t.dtype);
        expect(info.shape, `${key} ${name}`).toEqual(t.shape);
        expect(Buffer.from(map.bytes(name)).equals(Buffer.from(t.bytes, 'base64')), `${key} ${name}: bytes differ`).toBe(true);
        tensors++;
      }
      map.close();
    }
    expect(tensors).toBeGreaterThan(100);
    // Shared storages are views of one member, non-contiguous tensors copies described by their strides.
    const views = PyTorchMap.openSync(files['views-p2.pt']!.path);
    expect(views.info('transposed').strides).toEqual([1, 6]);
    expect(views.location('transposed')).toBeUndefined();
    expect(views.location('slice')!.offset - views.location('base')!.offset).toBe(10 * 4);
    const slice = views.get('slice');
    expect(slice.buffer).toBe(views.get('base').buffer); // one mapping, no copy
    views.close();
    const sharded = openNamedDataMapSync(files.sharded!.path) as ShardedMap;
    expect(sharded.shards).toHaveLength(3);
    expect(sharded.mappedShards).toBe(0);
    sharded.close();

    // convert --to safetensors: every tensor torch.load returns, in one file or in shards with an index.
    for (const [key, want] of Object.entries(files)) {
      const source = openNamedDataMapSync(want.path);
      const names = Object.keys(want.tensors).filter((n) => want.tensors[n]!.dtype !== 'complex128'); // safetensors has no C128
      const subset = key.startsWith('dtypes') ? undefined : source;
      if (!subset) {
        source.close();
        continue;
      }
      const out = join(dir, `${key}.safetensors`);
      await convertToSafetensors(subset, out, key === 'sharded' ? { maxShardBytes: 2500 } : {});
      source.close();
      const back = openNamedDataMapSync(key === 'sharded' ? join(dir, 'sharded.safetensors.index.json') : out);
      expect(back.format).toBe(key === 'sharded' ? 'safetensors-sharded' : 'safetensors');
      expect(back.keys()).toEqual(names);
      for (const name of names) expect(Buffer.from(back.bytes(name)).equals(Buffer.from(want.tensors[name]!.bytes, 'base64')), `${key} ${name}`).toBe(true);
      if (key !== 'sharded') expect(back.metadata.format).toBe('pt');
      back.close();
    }
    expect((openNamedDataMapSync(join(dir, 'sharded.safetensors.index.json')) as ShardedMap).shards).toHaveLength(3);
    // A dtype safetensors cannot store is refused, naming the tensor.
    const dtypes = openNamedDataMapSync(files['dtypes-p2.pt']!.path);
    await expect(convertToSafetensors(dtypes, join(dir, 'c128.safetensors'))).rejects.toMatchObject({ code: 'WK_UNSUPPORTED', message: expect.stringMatching(/t_complex128' is complex128/) });
    dtypes.close();
  });
});

/** A zip of stored members, as torch.save lays it out (`<archive>/data.pkl`, `<archive>/data/<key>`), via Python's zipfile. */
function torchZip(name: string, pickle: Uint8Array, storages: Record<string, Uint8Array> = {}): string {
  const path = join(dir, name);
  const members = { 'archive/data.pkl': Buffer.from(pickle).toString('base64'), ...Object.fromEntries(Object.entries(storages).map(([k, v]) => [`archive/data/${k}`, Buffer.from(v).toString('base64')])) };
  writeFileSync(`${path}.json`, JSON.stringify(members));
  const r = spawnSync('python3', ['-c', `
import base64, json, sys, zipfile
members = json.load(open(sys.argv[2]))
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
    for n, b in members.items(): z.writestr(n, base64.b64decode(b))
`, path, `${path}.json`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return path;
}

/** Pickle bytes from Python's own pickler (protocol 2), for payloads torch.load would run. */
function pythonPickle(code: string): Uint8Array {
  const r = spawnSync('python3', ['-c', `import pickle, sys\n${code}\nsys.stdout.buffer.write(pickle.dumps(obj, protocol=2))`]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return r.stdout;
}

describe('hostile pickles are refused, naming what they asked for, without running anything', () => {
  const marker = join(dir, 'pwned');
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['os.system', () => pythonPickle(`import os\nclass E:\n    def __reduce__(self): return (os.system, ('touch ${marker}',))\nobj = {'w': E()}`), /refused to load global '(posix|os)\.system'/],
    ['builtins.eval', () => pythonPickle(`class E:\n    def __reduce__(self): return (eval, ("open('${marker}', 'w')",))\nobj = E()`), /refused to load global '(__builtin__|builtins)\.eval'/],
    ['a getattr chain', () => pythonPickle(`class E:\n    def __reduce__(self): return (getattr, ('os', 'system'))\nobj = E()`), /refused to load global '(__builtin__|builtins)\.getattr'/],
    ['an arbitrary class built with BUILD', () => pythonPickle(`import collections\nobj = collections.Counter(a=1)`), /refused to load global 'collections\.Counter'/],
    ['BUILD on a storage', () => new Uint8Array([0x80, 2, ...Buffer.from('(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ}b.', 'latin1')]), /BUILD on .*not a state dict/],
    ['a memo index never stored', () => new Uint8Array([0x80, 2, 0x68, 7, 0x2e]), /memo 7 was never stored/],
    ['a string claiming 2 GiB', () => new Uint8Array([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x2e]), /needs 2147483647 bytes, 2 remain/],
    ['NEWOBJ', () => new Uint8Array([0x80, 2, ...Buffer.from('ccollections\nOrderedDict\n)\x81.', 'latin1')]), /opcode 0x81/],
    ['an unknown storage type', () => new Uint8Array([0x80, 2, ...Buffer.from('(X\x07\x00\x00\x00storagectorch\nEvilStorage\n', 'latin1')]), /refused to load global 'torch\.EvilStorage'/],
  ];
  for (const [what, make, message] of cases) {
    it(what, () => {
      const path = torchZip(`${what.replace(/\W+/g, '-')}.pt`, make());
      const err = openError(path);
      expect(err).toBeInstanceOf(WeightkitError);
      expect(err).toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(message) });
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('100,000 nested lists and a 1,000,000-item memo chain: refused or read in one pass, never a RangeError', () => {
    const deep = new Uint8Array(2 + 100_000 + 1);
    deep.set([0x80, 2]);
    deep.fill(0x5d, 2, 2 + 100_000); // EMPTY_LIST x 100,000: left on the stack
    deep[deep.length - 1] = 0x2e;
    expect(() => unpickleStateDict(deep)).toThrowError(/values are left on the stack/);
    const chain = Buffer.alloc(2 + 1 + 1_000_000 * 6 + 1);
    chain.set([0x80, 2, 0x7d]);
    for (let i = 0; i < 1_000_000; i++) chain.set([0x72, ...[0, 0, 0, 0], 0x30], 3 + i * 6); // LONG_BINPUT 0, POP
    chain[chain.length - 1] = 0x2e;
    expect(() => unpickleStateDict(chain)).toThrowError(/the stack is empty/);
  });

  it('a .bin that is neither a zip nor a pickle (a TF.js shard) is not taken for a checkpoint', () => {
    const path = join(dir, 'group1-shard1of1.bin');
    writeFileSync(path, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
    expect(() => openNamedDataMapSync(path)).toThrowError(expect.objectContaining({ code: 'WK_UNSUPPORTED', message: expect.stringMatching(/is not a format weightkit reads/) }));
  });

  it('the legacy (pre-1.6) format is WK_UNSUPPORTED and says how to convert', () => {
    const path = join(dir, 'legacy.bin');
    writeFileSync(path, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
    expect(() => openNamedDataMapSync(path)).toThrowError(expect.objectContaining({ code: 'WK_UNSUPPORTED', message: expect.stringMatching(/legacy format .*torch\.save\(torch\.load/) }));
  });

  it('a tensor reaching past its storage, and a storage the archive lacks, are refused', () => {
    const tensor = (key: string, numel: number, size: number) => Buffer.from(`}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00${key}X\x03\x00\x00\x00cpuK${String.fromCharCode(numel)}tQK\x00K${String.fromCharCode(size)}\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu.`, 'latin1');
    const past = torchZip('past.pt', new Uint8Array([0x80, 2, ...tensor('0', 4, 9)]), { 0: new Uint8Array(16) });
    expect(() => openNamedDataMapSync(past)).toThrowError(expect.objectContaining({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/reaches element 9 of storage '0', which holds 4/) }));
    const lacking = torchZip('lacking.pt', new Uint8Array([0x80, 2, ...tensor('7', 4, 4)]), { 0: new Uint8Array(16) });
    expect(() => openNamedDataMapSync(lacking)).toThrowError(expect.objectContaining({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/storage '7', which the archive lacks/) }));
    const ok = torchZip('ok.pt', new Uint8Array([0x80, 2, ...tensor('0', 4, 4)]), { 0: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer) });
    const map = openNamedDataMapSync(ok);
    expect([...map.get('w')]).toEqual([1, 2, 3, 4]);
    map.close();
  });
});
