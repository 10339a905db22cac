// How a package finds its addon: a local build first, then the prebuilt binary
// for this platform; an error that names the platform, what ships and what to do.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { elfProblem, findNativeFile, loadNativeAddon, nativeFileCandidates, prebuildTag } from '@weightkit/core/internal';
import { tempDir } from './helpers.js';

const dir = tempDir('wk-loader-');
/** A package folder laid out as installed: <pkg>/dist/binding.js beside <pkg>/prebuilds and <pkg>/build. */
function fakePackage(name: string): { root: string; moduleUrl: string } {
  const root = join(dir, name);
  mkdirSync(join(root, 'dist'), { recursive: true });
  return { root, moduleUrl: pathToFileURL(join(root, 'dist', 'binding.js')).href };
}

describe('loading an addon', () => {
  it('names this machine linux-<arch>-glibc, read from the Node.js binary\'s loader as the diagnostic report says it', () => {
    const report = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
    expect(prebuildTag()).toBe(`linux-${process.arch}-${report.header.glibcVersionRuntime ? 'glibc' : 'musl'}`);
    expect(prebuildTag()).toBe(`linux-${process.arch}-glibc`);
  });

  it('tries build/Release/ (whoever built one wants it) before prebuilds/<tag>/', () => {
    const { root, moduleUrl } = fakePackage('order');
    expect(nativeFileCandidates(moduleUrl, 'x.node')).toEqual([
      join(root, 'build', 'Release', 'x.node'), join(root, 'build', 'Debug', 'x.node'), join(root, 'prebuilds', prebuildTag(), 'x.node'),
    ]);
    const core = findNativeFile(import.meta.resolve('@weightkit/core'), 'weightkit_core.node')!;
    mkdirSync(join(root, 'prebuilds', prebuildTag()), { recursive: true });
    copyFileSync(core, join(root, 'prebuilds', prebuildTag(), 'weightkit_core.node'));
    expect(findNativeFile(moduleUrl, 'weightkit_core.node')).toBe(join(root, 'prebuilds', prebuildTag(), 'weightkit_core.node'));
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    copyFileSync(core, join(root, 'build', 'Release', 'weightkit_core.node'));
    expect(findNativeFile(moduleUrl, 'weightkit_core.node')).toBe(join(root, 'build', 'Release', 'weightkit_core.node'));
    expect(typeof loadNativeAddon<{ setErrorClass: unknown }>(moduleUrl, 'weightkit_core').setErrorClass).toBe('function');
  });

  it('a binary of another architecture is skipped with a reason, never handed to dlopen', () => {
    const core = findNativeFile(import.meta.resolve('@weightkit/core'), 'weightkit_core.node')!;
    const other = join(dir, 'other-arch.node');
    const bytes = readFileSync(core);
    bytes.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 0x12);
    writeFileSync(other, bytes);
    expect(elfProblem(other)).toBe(`built for ${process.arch === 'arm64' ? 'x64' : 'arm64'}, this machine is ${process.arch}`);
  });

  it('on macOS: WK_UNSUPPORTED at first use, saying what ships and that weightkit runs on Linux (no build advice)', () => {
    const { root, moduleUrl } = fakePackage('darwin');
    for (const tag of ['linux-x64-glibc', 'linux-arm64-glibc']) mkdirSync(join(root, 'prebuilds', tag), { recursive: true });
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
      Object.defineProperty(process, 'platform', { value: 'darwin' });
      const { loadNativeAddon } = await import('@weightkit/core/internal');
      try { loadNativeAddon(process.env.URL, 'weightkit_core'); } catch (e) { console.log(e.code, e.message); }`],
    { encoding: 'utf8', env: { ...process.env, URL: moduleUrl } });
    expect(r.stdout).toMatch(new RegExp(`^WK_UNSUPPORTED cannot load the native addon weightkit_core\\.node on darwin-${process.arch} .*ships prebuilt binaries for linux-arm64-glibc and linux-x64-glibc \\(glibc 2\\.31 or newer\\)\\. weightkit runs on Linux only`));
    expect(r.stdout).not.toMatch(/cmake-js compile/);
  });

  it('without any binary: WK_UNSUPPORTED naming the platform, what was tried and how to build from source', () => {
    const { root, moduleUrl } = fakePackage('missing');
    expect(() => loadNativeAddon(moduleUrl, 'weightkit_nothing')).toThrowError(expect.objectContaining({
      code: 'WK_UNSUPPORTED',
      message: expect.stringMatching(new RegExp(`on ${prebuildTag()} .*${join(root, 'prebuilds').replaceAll('/', '\\/')}.*npx cmake-js compile`)),
    }));
  });

  it('a truncated binary is skipped for the next candidate, never loaded (it used to kill the process with SIGBUS)', () => {
    const core = findNativeFile(import.meta.resolve('@weightkit/core'), 'weightkit_core.node')!;
    for (const keep of [0.1, 0.5, 0.9, 0.999]) {
      const { root, moduleUrl } = fakePackage(`truncated-${keep}`);
      const local = join(root, 'build', 'Release', 'weightkit_core.node');
      mkdirSync(dirname(local), { recursive: true });
      copyFileSync(core, local);
      truncateSync(local, Math.floor(statSync(core).size * keep));
      expect(elfProblem(local)).toMatch(/^truncated: .* ends at byte \d+, the file has \d+ \(reinstall the package\)$/);
      // In a child: a SIGBUS there is a failure here, not the end of the test run.
      const script = `
        import { loadNativeAddon } from '@weightkit/core/internal';
        try { loadNativeAddon(process.env.URL, 'weightkit_core'); console.log('loaded'); } catch (e) { console.log(e.code, e.message); }`;
      const run = () => spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, URL: moduleUrl } });
      const alone = run();
      expect(alone.signal).toBeNull();
      expect(alone.stdout).toMatch(/^WK_UNSUPPORTED .*weightkit_core\.node \(truncated: /);
      mkdirSync(join(root, 'prebuilds', prebuildTag()), { recursive: true });
      copyFileSync(core, join(root, 'prebuilds', prebuildTag(), 'weightkit_core.node'));
      const fallback = run();
      expect(fallback.signal).toBeNull();
      expect(fallback.stdout.trim()).toBe('loaded');
    }
    expect(elfProblem(core)).toBeUndefined();
  });

  it('WEIGHTKIT_ADDON_<NAME> naming a relative path or a broken file is an error, not silently replaced by the prebuilt', () => {
    const broken = join(dir, 'broken.node');
    writeFileSync(broken, 'not a binary');
    for (const [value, message] of [['relative/core.node', /must be an absolute path/], [broken, /cannot be loaded: .*broken\.node \(not an ELF shared object\)/], [join(dir, 'absent.node'), /absent\.node \(missing\)/]] as const) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
        import { loadNativeAddon } from '@weightkit/core/internal';
        try { loadNativeAddon(import.meta.resolve('@weightkit/core'), 'weightkit_core'); console.log('loaded'); } catch (e) { console.log(e.code, e.message); }`],
      { encoding: 'utf8', env: { ...process.env, WEIGHTKIT_ADDON_WEIGHTKIT_CORE: value } });
      expect(r.stdout).toMatch(/^WK_BAD_ARGUMENT WEIGHTKIT_ADDON_WEIGHTKIT_CORE /);
      expect(r.stdout).toMatch(message);
    }
  });
});
