// Options from the environment, as an app that imports one package sees them:
// each package reads its own WEIGHTKIT_<NAMESPACE>_* variables, ignores other
// weightkit packages' (a GPU host's normal settings), and refuses a misspelt
// one of its own and any of no weightkit namespace; core honours its own.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendOptions, fileFootprint, openNamedDataMap, readFootprint, writeSafetensors } from '@weightkit/core';
import { PackedWeightsCache } from '@weightkit/xnnpack-cache';
import { OffloadRuntime } from '@weightkit/cuda-offload';
import { tempDir } from './cli-harness.js';

const dir = tempDir('wk-env-');
const MiB = 2 ** 20;
const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

function model(name: string, bytes: number): string {
  const path = join(dir, `${name}.safetensors`);
  writeSafetensors(path, [{ name: 'w', dtype: 'float32', shape: [bytes / 4], data: (c: Uint8Array) => c.fill(7) }]);
  return path;
}

describe('each package reads only its own namespace', () => {
  it('xnnpack-cache opens with a GPU host\'s cuda variables set, build and CI switches too', async () => {
    process.env.WEIGHTKIT_CUDA_WEIGHT_OFFLOAD_BUDGET_MB = '4096';
    process.env.WEIGHTKIT_CUDA_SOMETHING_NEWER = 'x';
    process.env.WEIGHTKIT_BUILD_CUDA = '0';
    process.env.WEIGHTKIT_CI_CACHE = '/tmp';
    process.env.WEIGHTKIT_XNNPACK_PACKED_CACHE_PATH = join(dir, 'env.xpwc');
    const cache = await PackedWeightsCache.open();
    expect(cache.path).toBe(join(dir, 'env.xpwc'));
    await cache.close();
  });

  it('a WEIGHTKIT_* variable of no weightkit namespace is refused by every package, naming the namespaces', async () => {
    process.env.WEIGHTKIT_XNNPACK_PACKED_CACHE_PATH = join(dir, 'ns.xpwc');
    for (const name of ['WEIGHTKIT_TYPO', 'WEIGHTKIT_LITERT_DELEGATE', 'WEIGHTKIT_XNNPAK_PACKED_CACHE_PATH']) {
      process.env[name] = '1';
      const refused = expect.objectContaining({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(new RegExp(`${name} is no weightkit variable: weightkit reads WEIGHTKIT_CORE_\\*, .*WEIGHTKIT_CI_\\*`)) });
      await expect(PackedWeightsCache.open()).rejects.toThrowError(refused);
      await expect(openNamedDataMap(model('ns', MiB))).rejects.toThrowError(refused);
      delete process.env[name];
    }
  });

  it('a misspelt variable of its own namespace is still refused, with the one meant', async () => {
    process.env.WEIGHTKIT_XNNPACK_PACKED_CACHE_PAHT = join(dir, 'typo.xpwc');
    await expect(PackedWeightsCache.open()).rejects.toThrowError(
      expect.objectContaining({ code: 'WK_BAD_ARGUMENT', message: expect.stringMatching(/WEIGHTKIT_XNNPACK_PACKED_CACHE_PAHT.*WEIGHTKIT_XNNPACK_PACKED_CACHE_PATH/) }),
    );
  });

  it('cuda-offload takes its budget from its variable and ignores xnnpack\'s', async () => {
    process.env.WEIGHTKIT_CUDA_WEIGHT_OFFLOAD_BUDGET_MB = '3';
    process.env.WEIGHTKIT_XNNPACK_NOT_AN_OPTION = '1';
    const map = await openNamedDataMap(model('offload', MiB));
    const rt = await OffloadRuntime.create({ weights: map, device: 'emu' });
    expect(rt.stats().budgetBytes).toBe(3 * MiB);
    await rt.close();
    map.close();
  });

  it('BackendOptions.fromEnv with namespaces: the same rule for native runtimes and tools', () => {
    const env = { WEIGHTKIT_CUDA_WEIGHT_OFFLOAD_BUDGET_MB: 'not a number', WEIGHTKIT_XNNPACK_PACKED_CACHE_PATH: '/x' };
    expect(BackendOptions.fromEnv(env, {}, ['xnnpack']).get('xnnpack.packed_cache_path')).toBe('/x');
    expect(() => BackendOptions.fromEnv(env, {}, ['cuda'])).toThrowError(/WEIGHTKIT_CUDA_WEIGHT_OFFLOAD_BUDGET_MB/);
  });
});

describe('core honours its own variables', () => {
  it('WEIGHTKIT_CORE_MAP_POPULATE=true maps every page at open; without it, pages come on first touch', async () => {
    const path = model('populate', 32 * MiB);
    const resident = async () => {
      const map = await openNamedDataMap(path);
      const rss = fileFootprint(readFootprint()!, path).rss;
      map.close();
      return rss;
    };
    const lazy = await resident();
    process.env.WEIGHTKIT_CORE_MAP_POPULATE = 'true';
    const populated = await resident();
    expect(lazy).toBeLessThan(4 * MiB);
    expect(populated).toBeGreaterThan(30 * MiB);
  });

  it('a misspelt core variable is refused when a map opens', async () => {
    process.env.WEIGHTKIT_CORE_MAP_POPULAT = 'true';
    await expect(openNamedDataMap(model('typo', MiB))).rejects.toThrowError(/WEIGHTKIT_CORE_MAP_POPULAT.*WEIGHTKIT_CORE_MAP_POPULATE/);
  });
});
