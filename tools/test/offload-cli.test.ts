import { join } from 'node:path';
import { probeCuda } from '@weightkit/cuda-offload';
import { describe, expect, it } from 'vitest';
import { modelDir, tempDir, weightkit } from './cli-harness.js';

const benchWork = tempDir('wk-bench-cuda-');
const manifest = join(modelDir, 'face_recognition_model-weights_manifest.json');

describe('weightkit offload', () => {
  it('plans with the documented JSON', () => {
    const r = weightkit('offload', 'plan', manifest, '--budget-mb', '8', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['budgetBytes', 'floorBytes', 'largestPairBytes', 'largestWeightBytes', 'lowerBoundBytesPerPass', 'plannedBytesPerPass', 'totalBytes']);
    expect(doc.budgetBytes).toBe(8 * 2 ** 20);
    expect(doc.lowerBoundBytesPerPass).toBe(doc.totalBytes - doc.budgetBytes);
  });

  it('runs passes on the emulated device with the documented JSON, never above the budget', () => {
    const r = weightkit('offload', 'run', manifest, '--budget-mb', '8', '--passes', '3', '--device', 'emu', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['budgetBytes', 'bytesH2DPerPass', 'device', 'lowerBoundBytesPerPass', 'passes', 'peakDeviceBytes', 'stallMs']);
    expect(doc).toMatchObject({ device: 'emu', passes: 3, budgetBytes: 8 * 2 ** 20 });
    expect(doc.bytesH2DPerPass).toHaveLength(3);
    expect(doc.peakDeviceBytes).toBeLessThanOrEqual(doc.budgetBytes);
    for (const b of doc.bytesH2DPerPass) expect(b).toBeGreaterThanOrEqual(doc.lowerBoundBytesPerPass);
    const lru = JSON.parse(weightkit('offload', 'run', manifest, '--budget-mb', '8', '--passes', '3', '--device', 'emu', '--policy', 'lru', '--json').stdout);
    expect(lru.bytesH2DPerPass[2]).toBeGreaterThanOrEqual(doc.bytesH2DPerPass[2]);
  });

  it('bench offload takes --device emu|cuda only, and refuses cuda without a GPU with error[WK_DEVICE]', () => {
    expect(weightkit('bench', 'offload', '--device', 'gpu').code).toBe(2);
    expect(weightkit('bench', 'xnnpack', '--device', 'cuda').code).toBe(2);
    if (probeCuda().available) return; // with a GPU the benchmark would run for real
    const r = weightkit('bench', 'offload', '--device', 'cuda', '--size', '4MiB', '--work', benchWork, '--out', benchWork);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[WK_DEVICE\]: device 'cuda' was requested but/);
  });

  it('refuses a budget below the floor with error[WK_BUDGET] and exit 1', () => {
    for (const args of [['plan'], ['run', '--passes', '1']]) {
      const r = weightkit('offload', args[0]!, manifest, '--budget-mb', '2', ...args.slice(1));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error\[WK_BUDGET\]: budget 2(\.00)? MiB is below the floor .* needs at least 4\.50 MiB/);
    }
    expect(weightkit('offload', 'run', manifest, '--budget-mb', '8').stderr).toMatch(/--passes is required/);
    expect(weightkit('offload', 'run', manifest, '--budget-mb', '8', '--passes', '1', '--device', 'tpu').code).toBe(1);
    expect(weightkit('offload').code).toBe(2);
  });
});
