// Every argument of the offload runtime is checked at the JS boundary with a
// message that names it (issue 23): nothing is silently turned into a default.
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsMap, writeSafetensors } from '@weightkit/core';
import { OffloadRuntime } from '@weightkit/cuda-offload';

const MiB = 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'wk-offload-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'm.safetensors');
writeSafetensors(path, [0, 1, 2, 3].map((i) => ({ name: `w${i}`, dtype: 'float32' as const, shape: [MiB / 4], data: (c: Uint8Array) => c.fill(i) })));

describe('OffloadRuntime.create refuses what it does not understand', () => {
  const m = SafetensorsMap.openSync(path);
  afterAll(() => m.close());
  const base = { weights: m, budgetMb: 3, device: 'emu' as const };
  for (const [what, options, message] of [
    ["device 'gpu'", { device: 'gpu' }, /device must be one of auto, cuda, emu; got "gpu"/],
    ["device 'CUDA'", { device: 'CUDA' }, /device must be one of auto, cuda, emu; got "CUDA"/],
    ['device 5', { device: 5 }, /device must be one of .*; got 5/],
    ['device null', { device: null }, /device must be one of .*; got null/],
    ["policy ''", { policy: '' }, /policy must be one of next-use, lru; got ""/],
    ["objective ''", { objective: '' }, /objective must be one of fastest, fewest-bytes; got ""/],
    ['one weight pinned four times', { pinned: ['w0', 'w0', 'w0', 'w0'] }, /pinned names 'w0' more than once/],
    ['a 5,000-deep schedule step', { schedule: [JSON.parse('['.repeat(5000) + '"w0"' + ']'.repeat(5000)) as string] }, /schedule names an array of 1 item/],
    ['a budget that is a string', { budgetMb: '3' }, /budgetMb must be a number from 0 to \d+, got "3"/],
  ] as const) {
    it(`${what}: WK_BAD_ARGUMENT naming the option`, async () => {
      await expect(OffloadRuntime.create({ ...base, ...(options as object) } as never)).rejects.toMatchObject({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(message) });
    });
  }

  it('runPasses stopped by close() rejects with WK_CLOSED, as every call on a closed runtime does', async () => {
    const rt = await OffloadRuntime.create({ ...base, computeUsPerStep: 200 });
    const run = rt.runPasses(1e9);
    while (rt.stats().passes === 0) await new Promise((r) => setTimeout(r, 2));
    const closed = rt.close();
    await expect(run).rejects.toMatchObject({ code: 'WK_CLOSED' });
    await closed;
  });
});
