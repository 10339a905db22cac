import { chmodSync, chownSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsMap, fileFootprint, readFootprint } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { readExecutorchIndex, smallModel, tempDir, warningsDuring, writeExecutorchFile } from './helpers.js';

const dir = tempDir();
const model = smallModel(join(dir, 'model.safetensors'));

async function packOnce(path: string, m = model, options = {}) {
  const map = SafetensorsMap.openSync(m);
  const cache = await PackedWeightsCache.open({ path });
  cache.initialize();
  const r = await cache.packModel(map, options);
  const names = cache.finalize();
  const saved = await cache.save();
  return { cache, map, r, names, saved };
}

describe('PackedWeightsCache', () => {
  it('places an entry of 2 MiB and more in its own 2 MiB block of the file (huge page-cache folios), smaller ones on the next page', async () => {
    const path = join(dir, 'aligned.xpwc');
    // Two layers of [1024, 1024] f32 (4 MiB packed each) and small biases.
    const { cache, map } = await packOnce(path, smallModel(join(dir, 'aligned.safetensors'), 2, 1024, 1024));
    await cache.close();
    map.close();
    const info = await PackedWeightsCache.inspectFile(path);
    const big = info.entries.filter((e) => e.size >= 2 ** 21);
    expect(big.length).toBe(2);
    for (const e of info.entries) {
      const regionStart = Math.floor(e.offset / 4096) * 4096; // the region's record sits in its first page
      expect(regionStart % (e.size >= 2 ** 21 ? 2 ** 21 : 4096), e.name).toBe(0);
    }
    // The gaps are holes: the file takes about what its entries need.
    expect(statSync(path).blocks * 512).toBeLessThan(info.entries.reduce((a, e) => a + e.size, 0) + 64 * 4096);
  });

  it('packs once, then every later open finds every entry and packs nothing', async () => {
    const path = join(dir, 'reuse.xpwc');
    const first = await packOnce(path);
    expect(first.r).toMatchObject({ entries: 4, packed: 4, hits: 0 });
    expect(first.names).toHaveLength(4);
    expect(first.saved).toBe(false); // packModel saved already
    expect(first.cache.stats()).toMatchObject({ packs: 4, fileBacked: true, writer: true, saves: 1 });
    const bytes = Buffer.from(first.cache.view('layers.0.weightlayers.0.bias')!);
    await first.cache.close();
    first.map.close();
    const second = await packOnce(path);
    expect(second.r).toMatchObject({ packed: 0, hits: 4 });
    expect(second.saved).toBe(false);
    expect(second.cache.stats()).toMatchObject({ loadedEntries: 4, packs: 0, reserves: 0, writer: false, trusted: true, verifiedBytes: 0 });
    expect(Buffer.from(second.cache.view('layers.0.weightlayers.0.bias')!).equals(bytes)).toBe(true);
    second.cache.close();
    second.map.close();
  });

  it('keeps packed pages clean after finalize, and a warm open dirties nothing', async () => {
    const path = join(dir, 'clean.xpwc');
    const cold = await packOnce(path);
    // Entries are mapped lazily: read every page, as a runtime would.
    for (const n of cold.cache.names()) cold.cache.view(n)!.reduce((a, b) => a + b, 0);
    const fp = fileFootprint(readFootprint()!, path);
    expect(fp.rss).toBeGreaterThan(0);
    expect(fp.privateDirty + fp.sharedDirty).toBe(0);
    await cold.cache.close();
    const warm = await PackedWeightsCache.open({ path });
    for (const n of warm.names()) warm.view(n)!.reduce((a, b) => a + b, 0);
    const fp2 = fileFootprint(readFootprint()!, path);
    expect(fp2.rss).toBeGreaterThan(0);
    expect(fp2.privateDirty + fp2.sharedDirty).toBe(0);
    warm.close();
    cold.map.close();
  });

  it('populate reads every packed page in at open (the first use faults nothing); without it pages come on first use', async () => {
    const model = smallModel(join(dir, 'populate.safetensors'), 4, 512, 512);
    const path = join(dir, 'populate.xpwc');
    const packer = await PackedWeightsCache.open({ path });
    const map = SafetensorsMap.openSync(model);
    await packer.packModel(map);
    await packer.close();
    map.close();
    const openWith = async (populate: boolean) => {
      const c = await PackedWeightsCache.open({ path, populate });
      const rss = fileFootprint(readFootprint()!, path).rss;
      const { populatedBytes, loadedEntries } = c.stats();
      await c.close();
      return { rss, populatedBytes, loadedEntries };
    };
    const lazy = await openWith(false);
    const eager = await openWith(true);
    expect(lazy.loadedEntries).toBe(4);
    expect(eager.loadedEntries).toBe(4);
    expect(lazy.populatedBytes).toBe(0);
    expect(eager.populatedBytes).toBeGreaterThan(4 * 512 * 512 * 4);
    expect(lazy.rss).toBeLessThan(512 * 1024);
    expect(eager.rss).toBeGreaterThanOrEqual(4 * 512 * 512 * 4);
    await expect(PackedWeightsCache.open({ path, populate: 'yes' as never })).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(/populate must be true or false/) });
  });

  it('never grows the file over 50 load/unload cycles, and a no-op save leaves bytes and mtime alone', async () => {
    const path = join(dir, 'cycles.xpwc');
    await (await packOnce(path)).cache.close();
    const size = statSync(path).size;
    const before = readFileSync(path);
    const mtime = statSync(path).mtimeMs;
    for (let i = 0; i < 50; i++) {
      const { cache, map, names, saved } = await packOnce(path);
      expect(saved).toBe(false);
      cache.release(names);
      await cache.close();
      map.close();
    }
    expect(statSync(path).size).toBe(size);
    expect(statSync(path).mtimeMs).toBe(mtime);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('counts references: heap entries are freed at zero, file-backed entries persist', async () => {
    const heap = await PackedWeightsCache.open({ path: '' });
    const map = SafetensorsMap.openSync(model);
    heap.initialize();
    await heap.packModel(map);
    const names = heap.finalize();
    expect(heap.stats()).toMatchObject({ entries: 4, fileBacked: false, heapBytes: expect.any(Number) });
    heap.initialize();
    await heap.packModel(map); // a second runtime uses the same entries
    const again = heap.finalize();
    heap.release(names);
    expect(heap.stats().entries).toBe(4); // still held by the second runtime
    heap.release(again);
    expect(heap.stats().entries).toBe(0);
    heap.close();

    const path = join(dir, 'refs.xpwc');
    const { cache, names: fileNames } = await packOnce(path);
    cache.release(fileNames);
    expect(cache.stats().entries).toBe(4); // saved: persistent
    cache.close();
    map.close();
  });

  it('shares one file and one trailer between models; an opted-out sibling never touches it', async () => {
    const path = join(dir, 'shared.xpwc');
    const other = smallModel(join(dir, 'other.safetensors'), 2, 24, 16, 3);
    const a = await PackedWeightsCache.open({ path });
    const b = await PackedWeightsCache.open({ path }); // same file, same process: one cache
    const heapOnly = await PackedWeightsCache.open({ path: '' });
    const ma = SafetensorsMap.openSync(model);
    const mb = SafetensorsMap.openSync(other);
    a.initialize();
    await a.packModel(ma);
    a.finalize();
    b.initialize();
    const rb = await b.packModel(mb, { namespace: 'other/' }); // both models name their tensors layers.N
    b.finalize();
    heapOnly.initialize();
    await heapOnly.packModel(mb, { namespace: 'other/' });
    expect(heapOnly.stats()).toMatchObject({ fileBacked: false, mappedBytes: 0 });
    expect(rb.packed).toBe(2);
    expect(await a.save()).toBe(false); // finalize saved: one trailer covers both models
    expect(await b.save()).toBe(false);
    const index = readExecutorchIndex(path);
    expect(index.entries.filter((e) => !e.name.startsWith('__weightkit')).length).toBe(6);
    for (const c of [a, b, heapOnly]) await c.close();
    ma.close();
    mb.close();
  });

  it('serves the WeightsCache contract: reserve, pack in place, insert, offsetToAddr', async () => {
    const cache = await PackedWeightsCache.open({ path: join(dir, 'contract.xpwc') });
    cache.initialize();
    const key = { seed: 7, kernel: 'w', bias: 'b', fingerprintId: 99 };
    expect(cache.lookUp(key)).toBeUndefined();
    const mem = cache.reserveSpace(1000)!;
    mem.set([1, 2, 3]);
    const offset = cache.lookUpOrInsert(key, mem)!;
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(1000); // an id, never an address
    expect(cache.lookUpOrInsert(key, undefined)).toBe(offset);
    expect(cache.lookUp({ ...key, seed: 8 })).toBeUndefined(); // another seed is another entry
    expect(cache.isFinalized()).toBe(false);
    expect(cache.finalize()).toEqual(['wb']);
    expect(cache.isFinalized()).toBe(true);
    expect([...cache.offsetToAddr(offset).subarray(0, 4)]).toEqual([1, 2, 3, 0]);
    // Caller-owned buffers are copied in.
    const own = new Uint8Array([9, 9, 9]);
    const o2 = cache.lookUpOrInsert({ seed: 1, kernel: 'x' }, own)!;
    own[0] = 0;
    expect([...cache.offsetToAddr(o2)]).toEqual([9, 9, 9]);
    expect(() => cache.offsetToAddr(12345)).toThrowError(/unknown offset/);
    for (const misuse of [() => cache.reserveSpace(-1), () => cache.reserveSpace(1.5), () => cache.lookUp({ seed: -1, kernel: 'w' }),
      () => cache.lookUp({ seed: 1, kernel: '' }), () => cache.offsetToAddr(Number.NaN), () => cache.release([1 as unknown as string])]) {
      expect(misuse).toThrowError(expect.objectContaining({ code: 'WK_BAD_ARGUMENT' }));
    }
    await cache.close();
    expect(() => cache.lookUp(key)).toThrowError(expect.objectContaining({ code: 'WK_CLOSED' }));
  });

  it('a late write into a reservation after insert changes neither that entry nor the next one', async () => {
    const cache = await PackedWeightsCache.open({ path: join(dir, 'late-write.xpwc') });
    cache.initialize();
    const first = cache.reserveSpace(8192)!;
    first.fill(1);
    const o1 = cache.lookUpOrInsert({ seed: 1, kernel: 'a' }, first)!;
    const second = cache.reserveSpace(8192)!;
    expect(second.every((b) => b === 0)).toBe(true); // zeroed, like fresh file pages
    second.fill(2);
    first.fill(7); // the caller misbehaves: its reservation was committed already
    const o2 = cache.lookUpOrInsert({ seed: 1, kernel: 'b' }, second)!;
    expect(cache.offsetToAddr(o1).every((b) => b === 1)).toBe(true);
    expect(cache.offsetToAddr(o2).every((b) => b === 2)).toBe(true);
    cache.finalize();
    const report = await cache.verify();
    expect(report.bad).toEqual([]);
    expect(report.checked).toBe(2);
    await cache.close();
  });

  it('re-packs when the same names get new values (content hashes), and never serves stale bytes', async () => {
    const path = join(dir, 'changed.xpwc');
    const m1 = smallModel(join(dir, 'v1.safetensors'), 2, 16, 16, 1);
    const first = await packOnce(path, m1, { hashInputs: true });
    const old = Buffer.from(first.cache.view('layers.0.weightlayers.0.bias')!);
    await first.cache.close();
    first.map.close();
    const m2 = smallModel(join(dir, 'v1.safetensors'), 2, 16, 16, 2); // same names, new values
    const second = await packOnce(path, m2, { hashInputs: true });
    expect(second.r).toMatchObject({ packed: 2, hits: 0 });
    expect(second.cache.stats().superseded).toBe(2);
    expect(Buffer.from(second.cache.view('layers.0.weightlayers.0.bias')!).equals(old)).toBe(false);
    expect(second.cache.stats().orphanBytes).toBeGreaterThan(0);
    await second.cache.close();
    second.map.close();
    // Compaction drops the superseded packs.
    const before = statSync(path).size;
    const report = await PackedWeightsCache.compactFile(path);
    expect(report.bytesAfter).toBeLessThan(before);
    expect(statSync(path).size).toBe(report.bytesAfter);
    expect((await PackedWeightsCache.inspectFile(path)).orphanBytes).toBe(0);
    const third = await packOnce(path, m2, { hashInputs: true });
    expect(third.r).toMatchObject({ packed: 0, hits: 2 });
    await third.cache.close();
    third.map.close();
  });

  it('never serves a flipped byte: first use checksums it, drops it and packs again; compact repairs the file', async () => {
    const path = join(dir, 'damaged.xpwc');
    const { cache, map } = await packOnce(path);
    await cache.close();
    const info = await PackedWeightsCache.inspectFile(path);
    const victim = info.entries.find((e) => e.name.startsWith('layers.2'))!;
    const bytes = readFileSync(path);
    bytes[victim.offset + 5]! ^= 0xff;
    writeFileSync(path, bytes);
    expect((await PackedWeightsCache.verifyFile(path)).bad).toEqual([victim.name]);
    // The default: the file changed behind weightkit's back, so each entry is checked on first use.
    const reopened = await PackedWeightsCache.open({ path });
    expect(reopened.stats().trusted).toBe(false);
    expect(reopened.view(victim.name)).toBeUndefined();
    reopened.initialize();
    const r = await reopened.packModel(map);
    expect(r).toMatchObject({ packed: 1, hits: 3 });
    expect(reopened.stats()).toMatchObject({ corruptEntries: 1, verifiedBytes: expect.any(Number) });
    expect((await reopened.verify()).bad).toEqual([]);
    await reopened.close();
    expect((await PackedWeightsCache.verifyFile(path)).bad).toEqual([]);

    // verify: 'open' checks everything up front; compact leaves damaged entries out.
    const again = readFileSync(path);
    const v2 = (await PackedWeightsCache.inspectFile(path)).entries.find((e) => e.name.startsWith('layers.1'))!;
    again[v2.offset + 9]! ^= 0x0f;
    writeFileSync(path, again);
    const eager = await PackedWeightsCache.open({ path, verify: 'open' });
    expect(eager.stats().corruptEntries).toBe(1);
    expect(eager.names()).not.toContain(v2.name);
    await eager.close();
    const compacted = await PackedWeightsCache.compactFile(path);
    expect(compacted.dropped).toEqual([v2.name]);
    expect((await PackedWeightsCache.verifyFile(path)).bad).toEqual([]);
    map.close();
  });

  it('refuses compaction while the file is open, here or in another handle', async () => {
    const path = join(dir, 'busy.xpwc');
    const { cache, map } = await packOnce(path);
    await expect(PackedWeightsCache.compactFile(path)).rejects.toMatchObject({ code: 'WK_LOCKED' });
    const r = await cache.compact(); // the only user may compact through its own handle
    expect(r.entries).toBe(4);
    expect(cache.names()).toHaveLength(4);
    await cache.close();
    map.close();
  });

  it('creates files 0600, refuses symlinks and files of other users, and treats names as data', async () => {
    const path = join(dir, 'secure.xpwc');
    const c = await PackedWeightsCache.open({ path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    c.initialize();
    const evil = { seed: 0, kernel: '../../etc/passwd', bias: '\0/dev/null' };
    c.lookUpOrInsert(evil, new Uint8Array([1]));
    c.finalize();
    await c.close();
    expect(existsSync(join(dir, '..', '..', 'etc', 'passwd.xpwc'))).toBe(false);
    expect((await PackedWeightsCache.inspectFile(path)).entries.map((e) => e.name)).toContain('../../etc/passwd\0/dev/null');

    symlinkSync(path, join(dir, 'link.xpwc'));
    await expect(PackedWeightsCache.open({ path: join(dir, 'link.xpwc') })).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT' });
    const foreign = join(dir, 'foreign.xpwc');
    writeFileSync(foreign, '');
    chmodSync(foreign, 0o666);
    chownSync(foreign, 65534, 65534);
    await expect(PackedWeightsCache.open({ path: foreign })).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(/another user/) });
  });

  it('refuses a file that is not a cache and leaves it as it is; moves a damaged cache aside and says where', async () => {
    const notCache = join(dir, 'somebody.safetensors');
    writeFileSync(notCache, Buffer.from("this is somebody else's file, not a cache"));
    await expect(PackedWeightsCache.open({ path: notCache })).rejects.toMatchObject({ code: 'WK_BAD_FORMAT', message: expect.stringMatching(/not an XPWC/) });
    expect(readFileSync(notCache, 'utf8')).toMatch(/somebody else/);

    // An XPWC footer whose index lies past it: ExecuTorch would wipe this file too.
    const damaged = join(dir, 'damaged-footer.xpwc');
    writeExecutorchFile(damaged, [{ name: 'w', data: new Uint8Array(10) }]);
    const b = readFileSync(damaged);
    b.writeBigUInt64LE(BigInt(b.length), b.length - 20);
    writeFileSync(damaged, b);
    let c!: PackedWeightsCache;
    const warnings = await warningsDuring(async () => (c = await PackedWeightsCache.open({ path: damaged })));
    const moved = c.stats().rebuiltFrom!;
    expect(readFileSync(moved).equals(b)).toBe(true);
    expect(warnings.join()).toContain(moved);
    expect(statSync(damaged).size).toBe(0);
    await c.close();
  });

  it('after pack, finalize, close and compact the last 20 bytes are a v2 footer indexing every entry', async () => {
    const path = join(dir, 'eof.xpwc');
    const map = SafetensorsMap.openSync(model);
    const names = (index: ReturnType<typeof readExecutorchIndex>) => index.entries.map((e) => e.name).filter((n) => !n.startsWith('__weightkit')).sort();
    const c = await PackedWeightsCache.open({ path });
    c.initialize();
    await c.packModel(map);
    expect(names(readExecutorchIndex(path))).toEqual(c.names());
    c.lookUpOrInsert({ seed: 1, kernel: 'extra' }, new Uint8Array(5000).fill(3));
    expect(() => readExecutorchIndex(path)).toThrowError(/no XPWC footer/); // mid-pack: a tail
    c.finalize();
    expect(names(readExecutorchIndex(path))).toEqual(c.names());
    c.lookUpOrInsert({ seed: 1, kernel: 'more' }, new Uint8Array(100).fill(4));
    await c.close(); // without finalize or save
    expect(readExecutorchIndex(path).version).toBe(2);
    expect(names(readExecutorchIndex(path))).toHaveLength(6);
    await PackedWeightsCache.compactFile(path);
    expect(names(readExecutorchIndex(path))).toHaveLength(6);
    map.close();
  });

  it('closes with using / await using, and aborts packing with an AbortSignal', async () => {
    const path = join(dir, 'dispose.xpwc');
    const map = SafetensorsMap.openSync(model);
    {
      await using c = await PackedWeightsCache.open({ path });
      c.initialize();
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      await expect(c.packModel(map, { signal: controller.signal })).rejects.toThrowError('stop');
      expect(c.stats().packs).toBe(0);
      c.lookUpOrInsert({ seed: 1, kernel: 'k' }, new Uint8Array(64));
    }
    expect(readExecutorchIndex(path).entries.map((e) => e.name)).toContain('k');
    let held: PackedWeightsCache | undefined;
    {
      using c = await PackedWeightsCache.open({ path });
      held = c;
    }
    expect(held.closed).toBe(true);
    map.close();
    await expect((await PackedWeightsCache.open({ path })).packModel(map)).rejects.toMatchObject({ code: 'WK_CLOSED' });
  });

  it('refuses to pack a model file replaced after it was opened', async () => {
    const path = join(dir, 'replaced.safetensors');
    smallModel(path, 2, 16, 16, 1);
    const map = SafetensorsMap.openSync(path);
    smallModel(path, 2, 16, 16, 5); // written to a temporary file and renamed over it
    const c = await PackedWeightsCache.open({ path: join(dir, 'replaced.xpwc') });
    await expect(c.packModel(map)).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(/changed since the model was opened/) });
    await c.close();
    map.close();
  });

  it('packs qc8w and TF.js models (decoded weights, io layout)', async () => {
    const { createRequire } = await import('node:module');
    const { dirname } = await import('node:path');
    const { TfjsMap } = await import('@weightkit/core');
    const modelDir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'model');
    const tf = TfjsMap.openSync(join(modelDir, 'face_landmark_68_tiny_model-weights_manifest.json'));
    const cache = await PackedWeightsCache.open({ path: join(dir, 'tfjs.xpwc') });
    cache.initialize();
    const r = await cache.packModel(tf, { packer: 'qc8w' });
    expect(r.packed).toBe(r.entries);
    expect(r.items.every((i) => i.layout === 'io')).toBe(true);
    expect(r.items.filter((i) => i.bias).length).toBeGreaterThan(0);
    await cache.close();
    tf.close();
  });
});
