import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsMap, WeightkitError, writeSafetensors } from '@weightkit/core';
import { OffloadRuntime, chooseDevice, offloadLimits, plan, probeCuda, scheduleFacts, simulateEviction } from '@weightkit/cuda-offload';

const dir = mkdtempSync(join(tmpdir(), 'wk-offload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A model of float32 tensors with the given byte sizes and distinct contents. */
function model(name: string, sizes: number[]): SafetensorsMap {
  const path = join(dir, `${name}.safetensors`);
  writeSafetensors(path, sizes.map((bytes, i) => ({
    name: `w${i}`, dtype: 'float32' as const, shape: [bytes / 4],
    data: (chunk: Uint8Array, at: number) => chunk.forEach((_, j) => (chunk[j] = (at + j + i * 31) & 0xff)),
  })));
  return SafetensorsMap.openSync(path);
}

/** Textbook MIN, independent of the addon: bytes loaded per pass of a cyclic schedule. */
function textbookMin(sizes: number[], budget: number, passes: number): number[] {
  const n = sizes.length;
  const cache = new Set<number>();
  let used = 0;
  const out = new Array<number>(passes).fill(0);
  for (let t = 0; t < n * passes; t++) {
    const x = t % n;
    if (cache.has(x)) continue;
    while (used + sizes[x]! > budget) {
      let victim = -1;
      let far = -1;
      for (const c of cache) {
        const next = c > x ? c - x : c + n - x; // next use of c after t
        if (next >= far) { far = next; victim = c; }
      }
      cache.delete(victim);
      used -= sizes[victim]!;
    }
    cache.add(x);
    used += sizes[x]!;
    out[Math.floor(t / n)]! += sizes[x]!;
  }
  return out;
}

const MiB = 2 ** 20;

describe('planner', () => {
  it('the limits are the native core\'s (limits.hpp), read by the API, which refuses past them naming the option', async () => {
    const l = offloadLimits();
    expect(l).toEqual({ maxBytes: 8 * 2 ** 40, maxUs: 1e12, minGBps: 0.001, maxGBps: 1e6, passHistory: 1000 });
    const m = model('limits', [MiB]);
    const refused = /^budgetMb must be a number from 0 to 8388608, got 8388609$/;
    await expect(OffloadRuntime.create({ weights: m, budgetMb: l.maxBytes / MiB + 1, device: 'emu' })).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(refused) });
    expect(() => plan(m, undefined, l.maxBytes / MiB + 1)).toThrowError(refused);
    await expect(OffloadRuntime.create({ weights: m, budgetMb: 1, device: 'emu', computeUsPerStep: l.maxUs * 2 })).rejects.toMatchObject({ message: expect.stringMatching(/^computeUsPerStep must be a number from 0 to 1000000000000/) });
    m.close();
  });

  it('reports the floor and refuses a budget below it, stating the MiB needed', async () => {
    const m = model('floor', [1, 4, 3, 0.5, 2, 2.5].map((x) => x * MiB));
    const p = plan(m, undefined, 12);
    expect(p).toMatchObject({ floorBytes: 11 * MiB, totalBytes: 13 * MiB, lowerBoundBytesPerPass: 1 * MiB, budgetBytes: 12 * MiB });
    expect(p.plannedBytesPerPass).toBeGreaterThanOrEqual(p.lowerBoundBytesPerPass);
    expect(plan(m, undefined, 10).plannedBytesPerPass).toBeNull();
    // Without a budget: what the schedule asks of any; the pair 4 + 3 MiB is the largest in flight.
    expect(scheduleFacts(m)).toEqual({ totalBytes: 13 * MiB, floorBytes: 11 * MiB, largestPairBytes: 7 * MiB, largestWeightBytes: 4 * MiB });
    // Budget 0 means no offload, here as for OffloadRuntime.create: every weight resident, nothing moves.
    expect(plan(m, undefined, 0)).toMatchObject({ budgetBytes: 13 * MiB, lowerBoundBytesPerPass: 0, plannedBytesPerPass: 0 });
    const all = await OffloadRuntime.create({ weights: m, budgetMb: 0, device: 'emu' });
    expect(all.stats()).toMatchObject({ budgetBytes: 13 * MiB, lowerBoundBytesPerPass: 0 });
    all.close();
    await expect(OffloadRuntime.create({ weights: m, budgetMb: 10.9, device: 'emu' })).rejects.toMatchObject({
      code: 'WK_BUDGET', message: expect.stringMatching(/needs at least 11\.00 MiB/),
    });
    m.close();
  });

  it('next-use eviction matches a textbook MIN, equal and unequal sizes; LRU moves everything', async () => {
    for (const sizes of [new Array(10).fill(64 * 1024), [1, 3, 0.5, 2, 4, 1, 2.5, 1.5, 3, 0.5].map((x) => Math.round(x * 64 * 1024 / 4) * 4)]) {
      const m = model(`min-${sizes.length}-${sizes[1]}`, sizes);
      const floor = scheduleFacts(m).floorBytes;
      for (const budget of [floor, floor + 100_000, floor + 300_000]) {
        const expected = textbookMin(sizes, budget, 5);
        expect(simulateEviction(sizes, budget, 'next-use', 5)).toEqual(expected);
        const rt = await OffloadRuntime.create({ weights: m, budgetMb: budget / MiB, device: 'emu', prefetchMb: 0 });
        await rt.runPasses(5);
        expect(rt.stats().bytesH2DPerPass).toEqual(expected);
        expect(rt.stats().peakDeviceBytes).toBeLessThanOrEqual(budget);
        rt.close();
        const total = sizes.reduce((a, b) => a + b, 0);
        const lru = await OffloadRuntime.create({ weights: m, budgetMb: budget / MiB, device: 'emu', policy: 'lru', prefetchMb: 0 });
        await lru.runPasses(3);
        if (budget < total) expect(lru.stats().bytesH2DPerPass[2]).toBe(total);
        lru.close();
      }
      m.close();
    }
  });
});

describe('runtime on the emulated device', () => {
  it('serves every acquire with the host bytes, within the budget', async () => {
    const sizes = [3, 1, 2, 4, 1, 2, 3, 1].map((x) => x * 256 * 1024);
    const m = model('exact', sizes);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 3.5, device: 'emu', computeUsPerStep: 50 });
    expect(rt.device).toBe('emu');
    for (let pass = 0; pass < 3; pass++) {
      for (let i = 0; i < sizes.length; i++) {
        const a = rt.acquire(i);
        expect(a.name).toBe(`w${i}`);
        expect(typeof a.devicePtr).toBe('bigint');
        expect(Buffer.from(rt.readBack(i)).equals(Buffer.from(m.bytes(`w${i}`)))).toBe(true);
        rt.compute(i);
        rt.release(i);
      }
    }
    const s = rt.stats();
    expect(s.peakDeviceBytes).toBeLessThanOrEqual(3.5 * MiB);
    expect(rt.hazards()).toEqual([]);
    rt.close();
    expect(() => rt.stats()).toThrowError(/closed/);
    m.close();
  });

  it('hides copies behind compute when compute dominates, within the Belady bound plus the largest weight', async () => {
    const sizes = new Array(24).fill(MiB);
    const m = model('overlap', sizes);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 8, device: 'emu', computeUsPerStep: 80, emu: { h2dGBps: 25 } });
    await rt.runPasses(6);
    const s = rt.stats();
    const bound = s.lowerBoundBytesPerPass;
    expect(bound).toBe(plan(m, undefined, 8).lowerBoundBytesPerPass);
    const steady = s.bytesH2DPerPass.slice(2);
    for (const b of steady) expect(b).toBeLessThanOrEqual(bound + MiB);
    const computeMs = (24 * 80) / 1000;
    for (const ms of s.msPerPass.slice(2)) expect(ms).toBeLessThanOrEqual(1.05 * computeMs);
    expect(s.overlap).toBeGreaterThan(0.95);
    // The plan it chose fits the budget with its reserve.
    expect(s.residency.pinnedBytes + s.residency.reserveBytes).toBeLessThanOrEqual(8 * MiB);
    expect(s.residency.reserveBytes).toBeGreaterThanOrEqual(MiB);
    rt.close();
    m.close();
  });

  it('when copy and compute take about as long, spends at most one largest weight more per pass for a faster pass', async () => {
    // A decoder-shaped model: per layer four small and three larger weights.
    const sizes = [4 * MiB, ...Array.from({ length: 8 }, () => [MiB / 2, MiB / 2, MiB / 2, MiB / 2, 1.4 * MiB, 1.4 * MiB, 1.4 * MiB]).flat()].map((b) => 4 * Math.round(b / 4));
    const m = model('balanced', sizes);
    const total = sizes.reduce((a, b) => a + b, 0);
    const budgetMb = Math.round((0.75 * total) / MiB);
    const usPerMiB = 1e6 / (25e9 / MiB);
    const run = async (computeUsPerMiB: number | undefined) => {
      const rt = await OffloadRuntime.create({
        weights: m, budgetMb, device: 'emu', emu: { h2dGBps: 25 }, computeUsPerStep: 5,
        ...(computeUsPerMiB !== undefined ? { computeUsPerMiB } : {}),
      });
      await rt.runPasses(4);
      const s = rt.stats();
      rt.close();
      return s;
    };
    // Without a compute model the plan is the one that moves the fewest bytes; with it, the fastest.
    const fewest = await run(undefined);
    const timed = await run(0.25 * usPerMiB);
    const bound = plan(m, undefined, budgetMb).lowerBoundBytesPerPass;
    expect(timed.bytesH2DPerPass[3]).toBeLessThanOrEqual(Math.max(fewest.bytesH2DPerPass[3]!, bound + 1.4 * MiB + 1));
    expect(timed.peakDeviceBytes).toBeLessThanOrEqual(budgetMb * MiB);
    const passMs = timed.msPerPass[3]!;
    expect(passMs).toBeLessThanOrEqual(1.05 * Math.max(timed.copyMsPerPass[3]!, timed.computeMs / timed.passes));
    m.close();
  });

  it('reports the device and its plain pinned copy rate, measured by the device layer', async () => {
    const m = model('rate', [MiB, MiB, MiB]);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 3, device: 'emu', emu: { h2dGBps: 10 } });
    const s = rt.stats();
    expect(s.deviceName).toBe('emulated CUDA runtime');
    expect(s.pinnedCopyGBps).toBeGreaterThan(9.9);
    expect(s.pinnedCopyGBps).toBeLessThan(10.1);
    expect(s.bytesH2D).toBe(0); // the measurement is not counted as weight traffic
    rt.close();
    m.close();
  });

  it('strict cursor mode names the expected and the actual weight', async () => {
    const m = model('cursor', [4096, 4096, 4096]);
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 1, device: 'emu' });
    expect(rt.acquireNext('w0').name).toBe('w0');
    expect(() => rt.acquireNext('w2')).toThrowError(/expected 'w1', got 'w2'/);
    rt.close();
    m.close();
  });

  it('runs a schedule of multi-weight steps and pinned weights', async () => {
    const m = model('steps', [8192, 4096, 8192, 4096, 8192, 4096]);
    const rt = await OffloadRuntime.create({
      weights: m, budgetMb: 40 / 1024, device: 'emu', schedule: [['w0', 'w1'], ['w2', 'w3'], ['w4', 'w5']], pinned: ['w1'],
    });
    for (let p = 0; p < 3; p++) await rt.runPass();
    expect(rt.stats().peakDeviceBytes).toBeLessThanOrEqual(40 * 1024);
    expect(rt.hazards()).toEqual([]);
    rt.close();
    await expect(OffloadRuntime.create({ weights: m, budgetMb: 1, device: 'emu', schedule: [['w0', 'nope']] })).rejects.toThrow(WeightkitError);
    m.close();
  });

  it('feeds weights through a pinned staging ring when host memory cannot be registered', async () => {
    const m = model('staging', [300_000, 700_000, 500_000].map((x) => x - (x % 4)));
    const rt = await OffloadRuntime.create({ weights: m, budgetMb: 2.2, device: 'emu', emu: { hostRegister: false } });
    await rt.runPass();
    for (let i = 0; i < 3; i++) {
      rt.acquire(i);
      expect(Buffer.from(rt.readBack(i)).equals(Buffer.from(m.bytes(`w${i}`)))).toBe(true);
      rt.release(i);
    }
    expect(rt.stats()).toMatchObject({ hostRegistered: false });
    expect(rt.stats().stagedBytes).toBeGreaterThan(1_000_000);
    // The ring is allocated once (DeviceConfig's 8 MiB in 4 slots), however many bytes went through it.
    expect(rt.stats().stagingRingBytes).toBe(8 * 2 ** 20);
    rt.close();
    m.close();
  });
});

describe('the real-CUDA variant', () => {
  const nvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).stdout.trim();

  it(nvcc ? 'is built with nvcc, links, and loads without a GPU' : 'is not built: nvcc is not on this machine', () => {
    const probe = probeCuda();
    expect(probe.built).toBe(nvcc !== '');
    if (!probe.built) {
      // Said plainly: without nvcc only the emulated device exists.
      expect(chooseDevice('auto')).toMatchObject({ device: 'emu' });
      return;
    }
    const lib = join(packageDir(), 'build', 'Release', 'libweightkit_offload_cuda.so');
    const symbols = execFileSync('nm', ['-D', '--defined-only', lib], { encoding: 'utf8' });
    expect(symbols).toMatch(/weightkit_offload_make_cuda_device/);
    expect(symbols).not.toMatch(/ U cudaMalloc/); // cudart is linked statically
    if (probe.available) {
      expect(chooseDevice('auto').device).toBe('cuda');
    } else {
      expect(chooseDevice('auto')).toMatchObject({ device: 'emu', reason: expect.stringMatching(/emulated/) });
      expect(() => chooseDevice('cuda')).toThrowError(/device 'cuda' was requested/);
    }
  });
});

function packageDir(): string {
  return join(new URL('.', import.meta.resolve('@weightkit/cuda-offload/package.json')).pathname);
}
