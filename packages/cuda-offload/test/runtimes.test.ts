/**
 * Several runtimes in one process, the busy rule, and the planner on models
 * whose weights differ in size (issue 13's three defects).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
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
  it('while passes run: stats() answers at once from the last pass, other calls throw WK_BUSY', async () => {
    const sizes = Array.from({ length: 16 }, (_, i) => (i % 2 ? MiB / 4 : MiB));
    const m = model('busy', sizes);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 4, device: 'emu', computeUsPerStep: 100 });
    // Enough passes to keep the worker busy for about a second of real time.
    const t0 = performance.now();
    await rt.runPasses(20);
    const passes = Math.max(100, Math.round((20 * 1000) / Math.max(performance.now() - t0, 1)));
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const run = rt.runPasses(passes);
    expect(rt.busy).toBe(true);
    const syncMs: number[] = [];
    let answered = 0;
    let refused = 0;
    await expect(rt.runPasses(1)).rejects.toMatchObject({ code: 'WK_BUSY' });
    while (rt.busy) {
      const t = performance.now();
      const s = rt.stats();
      syncMs.push(performance.now() - t);
      expect(s.passes).toBeLessThanOrEqual(20 + passes);
      answered = Math.max(answered, s.passes);
      // The run may end between two calls; then a call may succeed.
      for (const call of [() => rt.compute(0), () => rt.readBack(0), () => rt.acquire(0), () => rt.release(0), () => rt.acquireNext('w1')]) {
        try {
          call();
          expect(rt.busy).toBe(false);
        } catch (e) {
          expect(e).toMatchObject({ code: 'WK_BUSY' });
          refused++;
        }
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await run;
    lag.disable();
    expect(syncMs.length).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20 * 4);
    // The snapshot moved on while the run was in flight.
    expect(answered).toBeGreaterThan(20);
    expect(rt.stats().passes).toBe(20 + passes);
    // Generous where the old runtime waited a whole run (1 to 2 s) for its mutex.
    expect(median(syncMs)).toBeLessThan(1);
    expect(Math.max(...syncMs)).toBeLessThan(50);
    expect(lag.percentile(50) / 1e6).toBeLessThan(10);
    expectExact(rt, m);
    await rt.close();
    m.close();
  });

  it('an aborted run stops after its current pass; close() during a run waits for it off the JS thread', async () => {
    const m = model('abort', [MiB, MiB, MiB, MiB]);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 3, device: 'emu', computeUsPerStep: 200 });
    const ac = new AbortController();
    const run = rt.runPasses(1_000_000, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('enough')), 20);
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
