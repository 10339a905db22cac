/**
 * Several runtimes in one process, the busy rule, and the planner on models
 * whose weights differ in size (issue 13's three defects).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsMap, WeightkitError, writeSafetensors } from '@weightkit/core';
import { OffloadRuntime, plan } from '@weightkit/cuda-offload';

const MiB = 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'wk-runtimes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(name: string, sizes: number[], seed = 0): SafetensorsMap {
  const path = join(dir, `${name}.safetensors`);
  writeSafetensors(path, sizes.map((bytes, i) => ({
    name: `w${i}`, dtype: 'float32' as const, shape: [bytes / 4],
    data: (chunk: Uint8Array, at: number) => chunk.forEach((_, j) => (chunk[j] = (at + j * 7 + i * 31 + seed * 101) & 0xff)),
  })));
  return SafetensorsMap.openSync(path);
}

/** Every weight's device bytes equal the host bytes, through acquire/readBack. */
function expectExact(rt: OffloadRuntime, m: SafetensorsMap) {
  for (let i = 0; i < rt.weights.length; i++) {
    rt.acquire(i);
    expect(Buffer.from(rt.readBack(i)).equals(Buffer.from(m.bytes(`w${i}`)))).toBe(true);
    rt.compute(i);
    rt.release(i);
  }
}

describe('runtimes never share a device state', () => {
  it('a second emulated runtime leaves the first one working (it used to reset it)', async () => {
    const a = model('a', [MiB, MiB / 2, MiB, MiB / 2], 1);
    const b = model('b', [MiB / 2, MiB, MiB / 2, MiB], 2);
    const ra = await OffloadRuntime.create({ weights: a, budgetMb: 2.5, device: 'emu', computeUsPerStep: 20 });
    await ra.runPasses(2);
    const rb = await OffloadRuntime.create({ weights: b, budgetMb: 2.5, device: 'emu', computeUsPerStep: 20 });
    await ra.runPasses(2);
    await rb.runPasses(2);
    expectExact(ra, a);
    expectExact(rb, b);
    expect(ra.hazards()).toEqual([]);
    expect(rb.hazards()).toEqual([]);
    // Each runtime counts only its own passes.
    expect(ra.stats().passes).toBe(4);
    expect(rb.stats().passes).toBe(2);
    await rb.close();
    await ra.runPass();
    expectExact(ra, a);
    await ra.close();
    a.close();
    b.close();
  });

  it('eight runtimes run their passes at the same time, interleaved, each with its own bytes', async () => {
    const maps = Array.from({ length: 8 }, (_, k) => model(`m${k}`, [MiB, MiB / 4, MiB, MiB / 4, MiB, MiB / 4], k));
    const rts = await Promise.all(maps.map((m, k) => OffloadRuntime.create({
      weights: m, budgetMb: 2.5 + (k % 3) * 0.5, device: 'emu', computeUsPerStep: 10 + k, computeUsPerMiB: 20,
    })));
    for (let round = 0; round < 3; round++) await Promise.all(rts.map((rt) => rt.runPasses(2)));
    rts.forEach((rt, k) => {
      expectExact(rt, maps[k]!);
      expect(rt.hazards()).toEqual([]);
      const s = rt.stats();
      expect(s.passes).toBe(6);
      expect(s.peakDeviceBytes).toBeLessThanOrEqual((2.5 + (k % 3) * 0.5) * MiB);
    });
    await Promise.all(rts.map((rt) => rt.close()));
    maps.forEach((m) => m.close());
  });
});

describe('a runtime never blocks the event loop', () => {
  // Deterministic under any load: the run is far longer than the test (it is
  // aborted at the end), so every call below is made while it is in flight, and
  // a stats() or timer that waited for the run would hang the test instead of
  // passing it. Timing decides how long the test waits, never what it asserts.
  it('while passes run: stats() answers from the last pass and timers fire; other calls throw WK_BUSY', async () => {
    const sizes = Array.from({ length: 16 }, (_, i) => (i % 2 ? MiB / 4 : MiB));
    const m = model('busy', sizes);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 4, device: 'emu', computeUsPerStep: 100 });
    await rt.runPasses(3);
    const ac = new AbortController();
    const run = rt.runPasses(1e9, { signal: ac.signal });
    expect(rt.busy).toBe(true);
    await expect(rt.runPasses(1)).rejects.toMatchObject({ code: 'WK_BUSY' });
    const calls = [() => rt.compute(0), () => rt.readBack(0), () => rt.acquire(0), () => rt.release(0), () => rt.acquireNext('w1')];
    // The snapshot moves on while the run is in flight: wait (on timers, which
    // fire only if the event loop is free) until it has passed 3 more passes.
    let rounds = 0;
    let seen = rt.stats().passes;
    expect(seen).toBeGreaterThanOrEqual(3);
    while (seen < 6 || rounds < 10) {
      const s = rt.stats();
      expect(s.passes).toBeGreaterThanOrEqual(seen);
      seen = s.passes;
      for (const call of calls) expect(call).toThrowError(expect.objectContaining({ code: 'WK_BUSY' }));
      rounds++;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(rt.busy).toBe(true);
    ac.abort(new Error('enough'));
    await expect(run).rejects.toThrowError('enough');
    // Idle again: no call is refused as busy, and the bytes are intact.
    expect(rt.busy).toBe(false);
    for (const call of calls) {
      try {
        call();
      } catch (e) {
        expect(e).toBeInstanceOf(WeightkitError);
        expect((e as WeightkitError).code).not.toBe('WK_BUSY');
      }
    }
    expect(rt.stats().passes).toBeGreaterThanOrEqual(seen);
    expectExact(rt, m);
    await rt.close();
    m.close();
  });

  it('an aborted run stops after its current pass; close() during a run waits for it off the JS thread', async () => {
    const m = model('abort', [MiB, MiB, MiB, MiB]);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 3, device: 'emu', computeUsPerStep: 200 });
    const ac = new AbortController();
    const run = rt.runPasses(1_000_000, { signal: ac.signal });
    // Abort once a pass has finished, however slowly the machine runs.
    while (rt.stats().passes === 0) await new Promise((r) => setTimeout(r, 2));
    ac.abort(new Error('enough'));
    await expect(run).rejects.toThrowError('enough');
    expect(rt.busy).toBe(false);
    const done = rt.stats().passes;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(1_000_000);
    void rt.runPasses(1_000_000).catch((e: unknown) => expect(e).toBeInstanceOf(WeightkitError));
    await rt.close();
    expect(() => rt.stats()).toThrowError(expect.objectContaining({ code: 'WK_CLOSED' }));
    m.close();
  });
});

describe('the planner on weights of different sizes', () => {
  // 8 layers of a 2 MiB and a 0.25 MiB weight: the model of the report.
  const sizes = Array.from({ length: 16 }, (_, i) => (i % 2 ? MiB / 4 : 2 * MiB));
  const usPerMiB = 1e6 / (25e9 / MiB);

  async function steady(budgetMb: number, objective: 'fastest' | 'fewest-bytes', m: SafetensorsMap) {
    const rt = await OffloadRuntime.create({
      weights: m, budgetMb, device: 'emu', emu: { h2dGBps: 25 }, objective, computeUsPerStep: 5, computeUsPerMiB: 1.5 * usPerMiB,
    });
    await rt.runPasses(5);
    const s = rt.stats();
    await rt.close();
    return {
      bytes: Math.max(...s.bytesH2DPerPass.slice(2)),
      passMs: Math.max(...s.msPerPass.slice(2)),
      computeMs: s.computeMs / s.passes,
      peak: s.peakDeviceBytes,
    };
  }

  it('fewest-bytes moves at most the in-flight pair (2.25 MiB) over the bound, plus a smallest weight of rounding, at 8..14 MiB', async () => {
    const m = model('mix', sizes);
    for (const budgetMb of [8, 10, 12, 14]) {
      const bound = plan(m, undefined, budgetMb).lowerBoundBytesPerPass;
      const r = await steady(budgetMb, 'fewest-bytes', m);
      // The reported planner moved 2.9 to 4.3 MiB over the bound here.
      expect(r.bytes - bound, `budget ${budgetMb} MiB`).toBeLessThanOrEqual(2.25 * MiB + MiB / 4);
      expect(r.peak).toBeLessThanOrEqual(budgetMb * MiB);
    }
    m.close();
  });

  it('fastest keeps the pass at the compute time and never moves more than the old reserve of two largest weights', async () => {
    const m = model('mix-fast', sizes);
    for (const budgetMb of [8, 12]) {
      const bound = plan(m, undefined, budgetMb).lowerBoundBytesPerPass;
      const fast = await steady(budgetMb, 'fastest', m);
      const few = await steady(budgetMb, 'fewest-bytes', m);
      expect(fast.passMs).toBeLessThanOrEqual(1.05 * fast.computeMs);
      expect(fast.passMs).toBeLessThanOrEqual(few.passMs);
      expect(fast.bytes).toBeGreaterThanOrEqual(few.bytes);
      expect(fast.bytes - bound).toBeLessThanOrEqual(2 * 2 * MiB + MiB / 4);
    }
    m.close();
  });

  it('rejects an unknown objective with the accepted values', async () => {
    const m = model('mix-bad', [MiB, MiB]);
    await expect(OffloadRuntime.create({ weights: m, budgetMb: 2, device: 'emu', objective: 'cheapest' as never }))
      .rejects.toThrowError(/objective.*fastest.*fewest-bytes/);
    m.close();
  });
});
