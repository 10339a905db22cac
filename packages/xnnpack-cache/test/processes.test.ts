// Real processes: reuse across processes, kill -9 mid-pack and mid-save,
// two writers at once, a reader while a writer appends, and a full disk.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { lastJson, node, readExecutorchIndex, smallModel, tempDir } from './helpers.js';

const dir = tempDir();
const model = smallModel(join(dir, 'model.safetensors'), 6, 64, 48);
const big = smallModel(join(dir, 'big.safetensors'), 12, 256, 256, 2);

/** A child that packs `modelPath` under `namespace` into `cache`, saves, and prints its stats. */
const packScript = `
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
const { CACHE, MODEL, NS, WAIT, LOOPS, HOLD } = process.env;
const map = SafetensorsMap.openSync(MODEL);
const cache = await PackedWeightsCache.open({ path: CACHE, lockWaitMs: Number(WAIT ?? 0) });
let last;
for (let i = 0; i < Number(LOOPS ?? 1); i++) {
  cache.initialize();
  last = await cache.packModel(map, { namespace: (NS ?? '') + (LOOPS ? i + '/' : '') });
  cache.finalize();
  await cache.save();
}
if (HOLD) await new Promise((r) => setTimeout(r, Number(HOLD)));
const s = cache.stats();
console.log(JSON.stringify({ packed: last.packed, hits: last.hits, writer: s.writer, fallback: s.heapFallbackBytes, entries: s.entries, saves: s.saves }));
// Keep the cache (and its writer lock) until the parent says so.
if (process.env.HOLD_STDIN) await new Promise((r) => process.stdin.on('end', r).resume());
cache.close();
`;

describe('across processes', () => {
  it('the first process packs, the next maps and packs nothing', () => {
    const cache = join(dir, 'cross.xpwc');
    const a = lastJson<{ packed: number; hits: number }>(node(packScript, { CACHE: cache, MODEL: model }));
    const b = lastJson<{ packed: number; hits: number }>(node(packScript, { CACHE: cache, MODEL: model }));
    expect(a).toMatchObject({ packed: 6, hits: 0 });
    expect(b).toMatchObject({ packed: 0, hits: 6 });
  });

  it('kill -9 at random instants of packing and saving never loses an earlier save or yields wrong bytes', async () => {
    const cache = join(dir, 'killed.xpwc');
    lastJson(node(packScript, { CACHE: cache, MODEL: model, NS: 'base/' }));
    const baseline = await PackedWeightsCache.open({ path: cache });
    const expected = new Map(baseline.names().map((n) => [n, Buffer.from(baseline.view(n)!)]));
    baseline.close();
    let seed = 7;
    const trials = 20;
    for (let t = 0; t < trials; t++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', packScript], {
        cwd: process.cwd(), env: { ...process.env, CACHE: cache, MODEL: model, NS: `t${t}/`, LOOPS: '200' }, stdio: 'ignore',
      });
      seed = (seed * 1103515245 + 12345) >>> 0;
      await new Promise((r) => setTimeout(r, 80 + (seed % 400)));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const c = await PackedWeightsCache.open({ path: cache, verify: 'open' });
      for (const [name, bytes] of expected) expect(Buffer.from(c.view(name)!).equals(bytes), `${name} after trial ${t}`).toBe(true);
      expect((await c.verify()).bad).toEqual([]);
      // The open repaired what the kill left: ExecuTorch's reader rule holds again.
      const index = readExecutorchIndex(cache);
      expect(index.entries.filter((e) => !e.name.startsWith('__weightkit')).map((e) => e.name).sort()).toEqual(c.names());
      await c.close();
      expect((await PackedWeightsCache.verifyFile(cache)).bad).toEqual([]);
    }
  });

  it('two writers at once: one writes the file, the other falls back to the heap and says so', async () => {
    const cache = join(dir, 'two.xpwc');
    // Both stay alive, holding what they got, until both have reported.
    const children = ['a/', 'b/'].map((ns) => spawn(process.execPath, ['--input-type=module', '-e', packScript], {
      cwd: process.cwd(), env: { ...process.env, CACHE: cache, MODEL: big, NS: ns, HOLD_STDIN: '1' },
    }));
    const reports = children.map((child) => new Promise<{ writer: boolean; fallback: { locked: number }; packed: number }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.trim().split('\n')[0]!));
      });
      child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`exit ${code}`))));
    }));
    const [a, b] = await Promise.all(reports);
    const exits = children.map((c) => new Promise((r) => c.on('exit', r)));
    for (const c of children) c.stdin.end();
    await Promise.all(exits);
    expect([a.writer, b.writer].sort()).toEqual([false, true]);
    const loser = a.writer ? b : a;
    expect(loser.fallback.locked).toBeGreaterThan(0);
    expect(loser.packed).toBe(12); // still served, from the heap
    const info = await PackedWeightsCache.inspectFile(cache);
    expect(info.entries.length).toBe(12);
    expect((await PackedWeightsCache.verifyFile(cache)).bad).toEqual([]);
  });

  it('a writer that waits for the lock adds to the file without dropping the first writer\'s entries', async () => {
    const cache = join(dir, 'wait.xpwc');
    const first = spawn(process.execPath, ['--input-type=module', '-e', packScript], {
      cwd: process.cwd(), env: { ...process.env, CACHE: cache, MODEL: model, NS: 'first/', HOLD_STDIN: '1' },
    });
    // Once the first has saved it holds the writer lock until we close its stdin.
    await new Promise((r) => first.stdout.once('data', r));
    const secondChild = spawn(process.execPath, ['--input-type=module', '-e', packScript], {
      cwd: process.cwd(), env: { ...process.env, CACHE: cache, MODEL: model, NS: 'second/', WAIT: '20000' },
    });
    let out = '';
    secondChild.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const secondExit = new Promise((r) => secondChild.on('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    first.stdin.end();
    await new Promise((r) => first.on('exit', r));
    expect(await secondExit).toBe(0);
    const second = JSON.parse(out.trim().split('\n').at(-1)!) as { writer: boolean; packed: number };
    expect(second).toMatchObject({ writer: true, packed: 6 });
    const names = (await PackedWeightsCache.inspectFile(cache)).entries.map((e) => e.name);
    expect(names.filter((n) => n.startsWith('first/'))).toHaveLength(6);
    expect(names.filter((n) => n.startsWith('second/'))).toHaveLength(6);
  });

  it('a reader keeps working while a writer appends and saves', async () => {
    const cache = join(dir, 'reader.xpwc');
    lastJson(node(packScript, { CACHE: cache, MODEL: model, NS: 'old/' }));
    const reader = await PackedWeightsCache.open({ path: cache });
    const views = reader.names().map((n) => [n, reader.view(n)!, Buffer.from(reader.view(n)!)] as const);
    const w = lastJson<{ writer: boolean; packed: number }>(node(packScript, { CACHE: cache, MODEL: big, NS: 'new/' }));
    expect(w).toMatchObject({ writer: true, packed: 12 });
    for (const [name, live, copy] of views) expect(Buffer.from(live).equals(copy), name).toBe(true);
    expect((await reader.verify()).bad).toEqual([]);
    reader.close();
    expect((await PackedWeightsCache.inspectFile(cache)).entries.length).toBe(18);
  });
});

describe('a full disk', () => {
  it('falls back to the heap (counted) instead of SIGBUS, and keeps what was saved', () => {
    const mnt = join(dir, 'small-fs');
    mkdirSync(mnt);
    const script = `
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
const path = process.env.MNT + '/c.xpwc';
const small = SafetensorsMap.openSync(process.env.MODEL);
const big = SafetensorsMap.openSync(process.env.BIG);
let c = await PackedWeightsCache.open({ path });
c.initialize(); await c.packModel(small, { namespace: 'small/' }); c.finalize(); await c.save(); c.close();
const result = {};
for (let round = 0; round < 4; round++) {
  c = await PackedWeightsCache.open({ path });
  c.initialize();
  const r = await c.packModel(big, { namespace: 'big' + round + '/' });
  c.finalize();
  try { await c.save(); } catch (e) { result.saveError = e.code; }
  const s = c.stats();
  result.noSpace = (result.noSpace ?? 0) + s.heapFallbackBytes.noSpace;
  result.packed = (result.packed ?? 0) + r.packed;
  c.close();
}
c = await PackedWeightsCache.open({ path, verify: 'open' });
result.smallKept = c.names().filter((n) => n.startsWith('small/')).length;
result.bad = (await c.verify()).bad.length;
c.close();
console.log(JSON.stringify(result));
`;
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c',
      `mount -t tmpfs -o size=8m tmpfs "$MNT" && exec "${process.execPath}" --input-type=module -e "$SCRIPT"`], {
      encoding: 'utf8', cwd: process.cwd(), env: { ...process.env, MNT: mnt, MODEL: model, BIG: big, SCRIPT: script }, timeout: 60_000,
    });
    expect(r.signal).toBeNull();
    const out = lastJson<{ noSpace: number; packed: number; smallKept: number; bad: number }>(r);
    expect(out.noSpace).toBeGreaterThan(0);
    expect(out.packed).toBe(48); // every weight still served
    expect(out.smallKept).toBe(6);
    expect(out.bad).toBe(0);
  });
});

describe('a read-only file system', () => {
  it('serves every hit from a cache on a read-only mount and packs the rest on the heap', () => {
    const mnt = join(dir, 'ro-fs');
    mkdirSync(mnt);
    const script = `
import { SafetensorsMap } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
const map = SafetensorsMap.openSync(process.env.MODEL);
const c = await PackedWeightsCache.open({ path: process.env.MNT + '/c.xpwc' });
c.initialize();
const r = await c.packModel(map);
c.finalize();
const s = c.stats();
await c.close();
console.log(JSON.stringify({ hits: r.hits, packed: r.packed, readOnly: s.readOnly, heapFallback: s.heapFallbackBytes.readOnly }));`;
    const other = smallModel(join(dir, 'ro-other.safetensors'), 2, 32, 32, 4);
    // Pack into the tmpfs, remount it read-only, then open the cache again from there.
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c',
      `mount -t tmpfs -o size=16m tmpfs "$MNT" && "${process.execPath}" --input-type=module -e "$SCRIPT" && mount -o remount,ro "$MNT" && ` +
      `MODEL="$OTHER" "${process.execPath}" --input-type=module -e "$SCRIPT" && "${process.execPath}" --input-type=module -e "$SCRIPT"`], {
      encoding: 'utf8', cwd: process.cwd(), env: { ...process.env, MNT: mnt, MODEL: model, OTHER: other, SCRIPT: script }, timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const [first, foreign, warm] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { hits: number; packed: number; readOnly: boolean; heapFallback: number });
    expect(first).toMatchObject({ packed: 6, readOnly: false });
    expect(foreign).toMatchObject({ hits: 0, packed: 2, readOnly: true });
    expect(foreign!.heapFallback).toBeGreaterThan(0);
    expect(warm).toMatchObject({ hits: 6, packed: 0, readOnly: true, heapFallback: 0 });
  });
});
