// XPWC in core's format registry: inspect-only, one magic per language.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectFormats, openNamedDataMap, openNamedDataMapSync, registeredFormats } from '@weightkit/core';
import { PackedWeightsCache, XPWC_MAGIC } from '@weightkit/xnnpack-cache';
import { smallModel, tempDir, writeExecutorchFile } from './helpers.js';

const dir = tempDir();

describe('XPWC in the format registry', () => {
  it('the TypeScript magic is the native one', async () => {
    const { xnnpackAddon } = await import('../dist/binding.js');
    expect(xnnpackAddon().xpwcMagic).toBe(XPWC_MAGIC);
  });

  it('registers as inspect-only: recognised and listed, refused as weights with what it is', async () => {
    expect(registeredFormats().find((f) => f.name === 'xpwc')?.list).toBeTypeOf('function');
    const model = smallModel(join(dir, 'm.safetensors'));
    const path = join(dir, 'c.xpwc');
    const cache = await PackedWeightsCache.open({ path });
    await cache.packModel(await openNamedDataMap(model));
    await cache.close();
    const [format] = detectFormats(path);
    expect(format?.name).toBe('xpwc');
    const listing = await format!.list!(path);
    const info = await PackedWeightsCache.inspectFile(path);
    expect(listing).toEqual({ format: 'xpwc', entries: info.entries.map((e) => ({ name: e.name, byteLength: e.size })) });
    const refusal = { code: 'WK_BAD_FORMAT', message: expect.stringMatching(/is an XPWC packed-weights cache, not weights: list it with 'weightkit cache inspect'/) };
    await expect(openNamedDataMap(path)).rejects.toMatchObject(refusal);
    expect(() => openNamedDataMapSync(path)).toThrowError(expect.objectContaining(refusal));
  });

  it('recognises a file ExecuTorch wrote (its footer is the only place the magic is)', () => {
    const path = join(dir, 'et.xpwc');
    writeExecutorchFile(path, [{ name: 'w', data: new Uint8Array(16) }]);
    expect(detectFormats(path).map((f) => f.name)).toEqual(['xpwc']);
    expect(PackedWeightsCache.looksLikeCache(path)).toBe(true);
    expect(PackedWeightsCache.looksLikeCache(join(dir, 'm.safetensors'))).toBe(false);
  });
});
