// Byte compatibility with ExecuTorch's XPWC files, and hostile files.
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { readExecutorchIndex, tempDir, writeExecutorchFile } from './helpers.js';

const dir = tempDir();
const regions = [
  { name: 'linear1.weightlinear1.bias', data: new Uint8Array(5000).map((_, i) => i % 251), seed: 11 },
  { name: 'linear2.weight', data: new Uint8Array(100).fill(7), seed: 22 },
];

async function code(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped: ${String(e)}`;
  }
}

describe('ExecuTorch compatibility', () => {
  for (const version of [2, 1]) {
    it(`reads a v${version} file written by an independent ExecuTorch-format writer`, async () => {
      const path = join(dir, `et-v${version}.xpwc`);
      writeExecutorchFile(path, regions, version);
      const info = await PackedWeightsCache.inspectFile(path);
      expect(info.version).toBe(version);
      expect(info.integrity).toBe(false);
      expect(info.entries.map((e) => [e.name, e.size, e.seed])).toEqual(regions.map((r) => [r.name, r.data.length, version === 2 ? r.seed : 0]));
      const cache = await PackedWeightsCache.open({ path });
      expect(cache.stats().loadedEntries).toBe(2);
      expect(Buffer.from(cache.view('linear1.weightlinear1.bias')!).equals(Buffer.from(regions[0]!.data))).toBe(true);
      // An ExecuTorch-style caller (no packer fingerprint) hits by name and seed.
      const seed = version === 2 ? 22 : 0; // v1 stores no seeds
      expect(cache.lookUp({ seed, kernel: 'linear2.weight' })).toBeGreaterThan(0);
      expect(cache.lookUp({ seed: seed + 1, kernel: 'linear2.weight' })).toBeUndefined();
      const report = await PackedWeightsCache.verifyFile(path);
      expect(report).toMatchObject({ checked: 0, unchecked: 2, bad: [] });
      cache.close();
    });
  }

  it('writes files an ExecuTorch-format reader reads, appending after an existing trailer', async () => {
    const path = join(dir, 'append.xpwc');
    writeExecutorchFile(path, regions, 2);
    const before = statSync(path).size;
    const cache = await PackedWeightsCache.open({ path });
    cache.initialize();
    const key = { seed: 5, kernel: 'new.weight' };
    const mem = cache.reserveSpace(300)!;
    mem.fill(3);
    cache.lookUpOrInsert(key, mem);
    cache.finalize();
    expect(await cache.save()).toBe(true);
    cache.close();
    const index = readExecutorchIndex(path);
    expect(index.version).toBe(2);
    expect(index.indexStart).toBeGreaterThan(before); // the old trailer became dead bytes, as in ExecuTorch
    const names = index.entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['linear1.weightlinear1.bias', 'linear2.weight', 'new.weight', '__weightkit_integrity_v1__']));
    const raw = readFileSync(path);
    const e = index.entries.find((x) => x.name === 'new.weight')!;
    expect(e.offset % 4096).toBe(0);
    expect([...raw.subarray(e.offset, e.offset + 4)]).toEqual([3, 3, 3, 3]);
    const old = index.entries.find((x) => x.name === 'linear2.weight')!;
    expect(raw.subarray(old.offset, old.offset + 100).every((b) => b === 7)).toBe(true);
    expect((await PackedWeightsCache.inspectFile(path)).orphanBytes).toBeGreaterThan(0);
  });
});

describe('hostile cache files', () => {
  const good = join(dir, 'good.xpwc');
  writeExecutorchFile(good, regions, 2);
  const bytes = readFileSync(good);
  const footer = bytes.length - 20;
  const variants: [string, (b: Buffer) => Buffer][] = [
    ['bad magic', (b) => { b.write('ABCD', footer + 12, 'latin1'); return b; }],
    ['version 3', (b) => { b.writeUInt32LE(3, footer + 16); return b; }],
    ['index_start at EOF', (b) => { b.writeBigUInt64LE(BigInt(b.length), footer); return b; }],
    ['index_start beyond EOF', (b) => { b.writeBigUInt64LE(2n ** 62n, footer); return b; }],
    ['huge entry_count', (b) => { b.writeUInt32LE(0xffffffff, footer + 8); return b; }],
    ['huge name_len', (b) => { b.writeUInt32LE(0x7fffffff, Number(b.readBigUInt64LE(footer))); return b; }],
    ['an entry overlapping the index', (b) => {
      const start = Number(b.readBigUInt64LE(footer));
      const n = b.readUInt32LE(start);
      b.writeBigUInt64LE(BigInt(start - 10), start + 4 + n);
      return b;
    }],
    ['offset + size overflowing 64 bits', (b) => {
      const start = Number(b.readBigUInt64LE(footer));
      const n = b.readUInt32LE(start);
      b.writeBigUInt64LE(2n ** 64n - 16n, start + 12 + n);
      return b;
    }],
  ];
  for (const [what, mutate] of variants) {
    it(`inspect refuses ${what} with a typed error; open rebuilds cleanly`, async () => {
      const path = join(dir, `hostile-${what.replace(/\W+/g, '-')}.xpwc`);
      writeFileSync(path, mutate(Buffer.from(bytes)));
      expect(await code(() => PackedWeightsCache.inspectFile(path))).toMatch(/^WK_(BAD_FORMAT|UNSUPPORTED|CORRUPT)$/);
      const c = await PackedWeightsCache.open({ path });
      expect(c.stats().loadedEntries).toBe(0);
      expect(c.stats().rebuiltFrom).toMatch(/\.invalid-/);
      c.close();
    });
  }

  it('refuses a trailer truncated at each of its bytes', async () => {
    const path = join(dir, 'cut.xpwc');
    const indexStart = Number(bytes.readBigUInt64LE(footer));
    for (let n = indexStart; n < bytes.length; n++) {
      copyFileSync(good, path);
      truncateSync(path, n);
      expect(await code(() => PackedWeightsCache.inspectFile(path))).toBe('WK_BAD_FORMAT');
    }
  });

  it('survives random garbage and random bit flips in the trailer', async () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
    const path = join(dir, 'fuzz.xpwc');
    for (let i = 0; i < 200; i++) {
      const b = Buffer.from(bytes);
      if (i % 2) {
        for (let k = 0; k < 4; k++) b[Number(bytes.readBigUInt64LE(footer)) + (rnd() % (b.length - Number(bytes.readBigUInt64LE(footer))))] = rnd() & 0xff;
      } else {
        for (let k = 0; k < b.length; k += 1 + (rnd() % 64)) b[k] = rnd() & 0xff;
      }
      writeFileSync(path, b);
      expect(await code(() => PackedWeightsCache.inspectFile(path))).toMatch(/^(ok|WK_BAD_FORMAT|WK_UNSUPPORTED|WK_CORRUPT)$/);
    }
  });
});
