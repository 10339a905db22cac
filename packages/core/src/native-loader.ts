/**
 * Loading a weightkit `.node` addon: the prebuilt binary shipped in the
 * package first, then a local build, then an error that names the platform,
 * lists what was tried and says how to build from source.
 *
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeightkitError } from './errors.js';

/** The largest ArrayBuffer this runtime can create (4 GiB on Node.js 20, 2^53 - 1 from Node.js 22). */
export const MAX_VIEW_BYTES: number = bufferConstants.MAX_LENGTH;

/** What every weightkit addon exports besides its own API. */
export interface AddonBase {
  /**
   * Hands the addon the class it throws for every failed native Status, and
   * the largest ArrayBuffer this runtime can hold.
   */
  setErrorClass(cls: typeof WeightkitError, maxViewBytes: number): void;
}

let tag: string | undefined;

/**
 * This machine's prebuilt-binary folder name, `<platform>-<arch>-<libc>`
 * (for example `linux-x64-glibc`); musl and other C libraries read `musl`.
 */
export function prebuildTag(): string {
  if (tag === undefined) {
    let libc = '';
    if (process.platform === 'linux') {
      const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
      libc = header?.glibcVersionRuntime ? '-glibc' : '-musl';
    }
    tag = `${process.platform}-${process.arch}${libc}`;
  }
  return tag;
}

/**
 * Where a native file of the package whose compiled module URL is
 * `moduleUrl` may be, in the order they are tried: the prebuilt binary for
 * this platform, then a local build (`npx cmake-js compile`, `npm run build`).
 */
export function nativeFileCandidates(moduleUrl: string, fileName: string): string[] {
  const packageRoot = join(dirname(fileURLToPath(moduleUrl)), '..');
  return [
    join(packageRoot, 'prebuilds', prebuildTag(), fileName),
    join(packageRoot, 'build', 'Release', fileName),
    join(packageRoot, 'build', 'Debug', fileName),
  ];
}

/** The first of {@link nativeFileCandidates} that exists. */
export function findNativeFile(moduleUrl: string, fileName: string): string | undefined {
  return nativeFileCandidates(moduleUrl, fileName).find((p) => existsSync(p));
}

/**
 * Loads `<name>.node` for the package whose compiled module URL is
 * `moduleUrl` (pass `import.meta.url` from its `dist/binding.js`) and hands
 * it {@link WeightkitError}. `WEIGHTKIT_ADDON_<NAME>` names a file to try
 * first. Throws WK_UNSUPPORTED naming the platform and the paths tried.
 */
export function loadNativeAddon<T extends AddonBase>(moduleUrl: string, name: string): T {
  const candidates = [process.env[`WEIGHTKIT_ADDON_${name.toUpperCase()}`], ...nativeFileCandidates(moduleUrl, `${name}.node`)]
    .filter((p): p is string => typeof p === 'string' && p.length > 0);
  const require = createRequire(moduleUrl);
  const failures: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push(`${path} (missing)`);
      continue;
    }
    try {
      const addon = require(path) as T;
      addon.setErrorClass(WeightkitError, MAX_VIEW_BYTES);
      return addon;
    } catch (e) {
      failures.push(`${path} (${(e as Error).message})`);
    }
  }
  const packageRoot = join(dirname(fileURLToPath(moduleUrl)), '..');
  throw new WeightkitError(
    'WK_UNSUPPORTED',
    `cannot load the native addon ${name}.node on ${prebuildTag()} (Node.js ${process.version}); tried: ${failures.join('; ')}. ` +
      `Prebuilt binaries ship for linux-x64-glibc. Elsewhere, build it from source (cmake >= 3.20 and a C++17 compiler): ` +
      `'npm install --no-save cmake-js node-addon-api node-api-headers' in your app, then 'npx cmake-js compile' in ${packageRoot}.`,
  );
}
