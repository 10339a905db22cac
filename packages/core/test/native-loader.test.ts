// How a package finds its addon: the prebuilt binary for this platform first,
// then a local build; an error that names the platform and how to build.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findNativeFile, loadNativeAddon, nativeFileCandidates, prebuildTag } from '@weightkit/core';
import { tempDir } from './helpers.js';

const dir = tempDir('wk-loader-');
/** A package folder laid out as installed: <pkg>/dist/binding.js beside <pkg>/prebuilds and <pkg>/build. */
function fakePackage(name: string): { root: string; moduleUrl: string } {
  const root = join(dir, name);
  mkdirSync(join(root, 'dist'), { recursive: true });
  return { root, moduleUrl: pathToFileURL(join(root, 'dist', 'binding.js')).href };
}

describe('loading an addon', () => {
  it('names this machine linux-<arch>-glibc', () => {
    expect(prebuildTag()).toBe(`linux-${process.arch}-glibc`);
  });

  it('tries prebuilds/<tag>/ before build/Release/', () => {
    const { root, moduleUrl } = fakePackage('order');
    expect(nativeFileCandidates(moduleUrl, 'x.node')).toEqual([
      join(root, 'prebuilds', prebuildTag(), 'x.node'), join(root, 'build', 'Release', 'x.node'), join(root, 'build', 'Debug', 'x.node'),
    ]);
    const core = findNativeFile(import.meta.resolve('@weightkit/core'), 'weightkit_core.node')!;
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    copyFileSync(core, join(root, 'build', 'Release', 'weightkit_core.node'));
    expect(findNativeFile(moduleUrl, 'weightkit_core.node')).toBe(join(root, 'build', 'Release', 'weightkit_core.node'));
    mkdirSync(join(root, 'prebuilds', prebuildTag()), { recursive: true });
    copyFileSync(core, join(root, 'prebuilds', prebuildTag(), 'weightkit_core.node'));
    expect(findNativeFile(moduleUrl, 'weightkit_core.node')).toBe(join(root, 'prebuilds', prebuildTag(), 'weightkit_core.node'));
    expect(typeof loadNativeAddon<{ setErrorClass: unknown }>(moduleUrl, 'weightkit_core').setErrorClass).toBe('function');
  });

  it('without any binary: WK_UNSUPPORTED naming the platform, what was tried and how to build from source', () => {
    const { root, moduleUrl } = fakePackage('missing');
    expect(() => loadNativeAddon(moduleUrl, 'weightkit_nothing')).toThrowError(expect.objectContaining({
      code: 'WK_UNSUPPORTED',
      message: expect.stringMatching(new RegExp(`on ${prebuildTag()} .*${join(root, 'prebuilds').replaceAll('/', '\\/')}.*npx cmake-js compile`)),
    }));
  });
});
