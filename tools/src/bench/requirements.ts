/**
 * What a benchmark needs besides weightkit, checked before it starts: its
 * baselines are optional peers of @weightkit/tools, which an app installs only
 * to run that benchmark.
 * @module
 */
import { WeightkitError } from '@weightkit/core';

/** WK_NOT_FOUND naming every package of `names` that cannot be imported from here. */
export function requirePackages(what: string, names: readonly string[]): void {
  const missing = names.filter((name) => {
    try {
      import.meta.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    throw new WeightkitError('WK_NOT_FOUND', `${what} needs ${missing.join(', ')} (optional peers of @weightkit/tools): run 'npm install ${missing.join(' ')}' in your app`);
  }
}
