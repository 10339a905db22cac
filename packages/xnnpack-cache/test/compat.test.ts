// Byte compatibility with ExecuTorch's XPWC files, and hostile files.
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { readExecutorchIndex, tempDir, warningsDuring, writeExecutorchFile } from './helpers.js';

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
      // ExecuTorch stores no fingerprint: an entry without one matches any
      // (real XNNPACK always passes one, 0x0c208200 for f32 fully-connected).
      expect(cache.lookUp({ seed: 22, kernel: 'linear2.weight', fingerprintId: 0x0c208200 })).toBeGreaterThan(0);
      // v2 checks the seed; v1 stores none and its look-ups are seed-blind, as ExecuTorch v1's were.
      expect(cache.lookUp({ seed: 23, kernel: 'linear2.weight' })).toEqual(version === 2 ? undefined : expect.any(Number));
      const report = await PackedWeightsCache.verifyFile(path);
      expect(report).toMatchObject({ checked: 0, unchecked: 2, bad: [] });
      await cache.close();
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
    cache.finalize(); // saves, as ExecuTorch's finalize does
    expect(await cache.save()).toBe(false);
    await cache.close();
    const index = readExecutorchIndex(path);
    expect(index.version).toBe(2);
    expect(index.indexStart).toBeGreaterThan(before); // the old trailer became dead bytes, as in ExecuTorch
    const names = index.entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['linear1.weightlinear1.bias', 'linear2.weight', 'new.weight', '__weightkit_integrity_v1__']));
    const raw = readFileSync(path);
    const e = index.entries.find((x) => x.name === 'new.weight')!;
    expect(e.offset % 64).toBe(0); // after weightkit's region record, 64-byte aligned as XNNPACK needs
    expect(raw.readUInt32LE(e.offset - 128)).toBe(0x31524b57); // the record ("WKR1") at the region's page
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
  const indexStart = Number(bytes.readBigUInt64LE(footer));
  // What ExecuTorch's loader does with each file decides what weightkit may do:
  // a file it accepts is served (or at worst left alone), never moved aside; a
  // recognisable cache it would reject (and wipe) is moved aside; a footer of
  // an unknown version is left alone; bytes that are no cache are refused.
  const variants: [string, (b: Buffer) => Buffer, { inspect: RegExp; open: 'served' | 'moved' | 'left' | 'refused' }][] = [
    ['bad magic', (b) => { b.write('ABCD', footer + 12, 'latin1'); return b; }, { inspect: /^WK_BAD_FORMAT$/, open: 'refused' }],
    ['version 3', (b) => { b.writeUInt32LE(3, footer + 16); return b; }, { inspect: /^WK_UNSUPPORTED$/, open: 'left' }],
    ['index_start at the footer', (b) => { b.writeBigUInt64LE(BigInt(footer), footer); return b; }, { inspect: /^WK_BAD_FORMAT$/, open: 'moved' }],
    ['index_start beyond EOF', (b) => { b.writeBigUInt64LE(2n ** 62n, footer); return b; }, { inspect: /^WK_BAD_FORMAT$/, open: 'moved' }],
    // ExecuTorch reads entries while 4 bytes of index remain: a huge count is no error.
    ['huge entry_count', (b) => { b.writeUInt32LE(0xffffffff, footer + 8); return b; }, { inspect: /^ok$/, open: 'served' }],
    ['huge name_len', (b) => { b.writeUInt32LE(0x7fffffff, indexStart); return b; }, { inspect: /^WK_BAD_FORMAT$/, open: 'moved' }],
    ['an entry overlapping the index', (b) => {
      const n = b.readUInt32LE(indexStart);
      b.writeBigUInt64LE(BigInt(indexStart - 10), indexStart + 4 + n);
      return b;
    }, { inspect: /^WK_BAD_FORMAT$/, open: 'moved' }],
    ['offset + size overflowing 64 bits', (b) => {
      const n = b.readUInt32LE(indexStart);
      b.writeBigUInt64LE(2n ** 64n - 16n, indexStart + 12 + n);
      return b;
    }, { inspect: /^WK_BAD_FORMAT$/, open: 'moved' }],
  ];
  for (const [what, mutate, expected] of variants) {
    it(`${what}: inspect ${expected.inspect.source}, open: ${expected.open}`, async () => {
      const path = join(dir, `hostile-${what.replace(/\W+/g, '-')}.xpwc`);
      const hostile = mutate(Buffer.from(bytes));
      writeFileSync(path, hostile);
      expect(await code(() => PackedWeightsCache.inspectFile(path))).toMatch(expected.inspect);
      let opened: unknown;
      const warnings = await warningsDuring(async () => (opened = await PackedWeightsCache.open({ path }).catch((e: { code: string }) => e)));
      expect(warnings.some((w) => w.includes('was moved aside'))).toBe(expected.open === 'moved');
      if (expected.open === 'refused') {
        expect(opened).toMatchObject({ code: 'WK_BAD_FORMAT' });
        expect(readFileSync(path).equals(hostile)).toBe(true);
        return;
      }
      const c = opened as PackedWeightsCache;
      const s = c.stats();
      if (expected.open === 'served') expect(s.loadedEntries).toBe(2);
      if (expected.open === 'moved') expect(s.rebuiltFrom).toMatch(/\.invalid-/);
      if (expected.open === 'left') expect(s).toMatchObject({ loadedEntries: 0, rebuiltFrom: null, refused: expect.stringMatching(/version 3/) });
      await c.close();
      if (expected.open !== 'moved') expect(readFileSync(path).equals(hostile)).toBe(true);
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

  it('a file ExecuTorch accepts is never moved aside: repeated names, bytes after the index, names over 64 KiB', async () => {
    const path = join(dir, 'lenient.xpwc');
    const long = 'n'.repeat(70_000);
    writeExecutorchFile(path, [
      { name: 'w', data: new Uint8Array(64).fill(1), seed: 1 },
      { name: 'w', data: new Uint8Array(64).fill(2), seed: 1 },
      { name: long, data: new Uint8Array(8).fill(3), seed: 9 },
    ], 2, Buffer.from('trailing'));
    const c = await PackedWeightsCache.open({ path });
    expect(c.stats()).toMatchObject({ loadedEntries: 2, rebuiltFrom: null, refused: null });
    expect([...c.view('w')!.subarray(0, 2)]).toEqual([2, 2]); // the last of a repeated name wins
    expect(c.lookUp({ seed: 9, kernel: long })).toBeDefined();
    await c.close();
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
