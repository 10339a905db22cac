/**
 * Loading a weightkit `.node` addon: the local build first, explicit candidate
 * paths, and an error that lists what was tried and how to fix it.
 *
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeightkitError } from './errors.js';

/** The largest ArrayBuffer this runtime can create (4 GiB on Node.js 20). */
export const MAX_VIEW_BYTES: number = bufferConstants.MAX_LENGTH;

/** What every weightkit addon exports besides its own API. */
export interface AddonBase {
  /**
   * Hands the addon the class it throws for every failed native Status, and
   * the largest ArrayBuffer this runtime can hold.
   */
  setErrorClass(cls: typeof WeightkitError, maxViewBytes: number): void;
}

/**
 * Loads `<name>.node` for the package whose compiled module URL is
 * `moduleUrl` (pass `import.meta.url` from its `dist/binding.js`) and hands
 * it {@link WeightkitError}. Throws WK_UNSUPPORTED listing the paths tried.
 */
export function loadNativeAddon<T extends AddonBase>(moduleUrl: string, name: string): T {
  const packageRoot = join(dirname(fileURLToPath(moduleUrl)), '..');
  const candidates = [
    process.env[`WEIGHTKIT_ADDON_${name.toUpperCase()}`],
    join(packageRoot, 'build', 'Release', `${name}.node`),
    join(packageRoot, 'build', 'Debug', `${name}.node`),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
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
  throw new WeightkitError(
    'WK_UNSUPPORTED',
    `cannot load the native addon ${name}.node; tried: ${failures.join('; ')}. ` +
      `Build it with 'npm run build' at the repository root (needs cmake and a C++17 compiler).`,
  );
}
