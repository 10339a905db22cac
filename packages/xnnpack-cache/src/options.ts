/**
 * Options of the packed-weights cache, registered in the shared
 * {@link @weightkit/core!BackendOptions} registry when this package is imported.
 * @module
 */
import { registerOption } from '@weightkit/core';
import { reserveVariable } from '@weightkit/core/internal';

// Where a prebuilt XNNPACK is, for the interop programs and tests: a build setting, no option.
reserveVariable('WEIGHTKIT_XNNPACK_DIR');

/** The options @weightkit/xnnpack-cache reads. */
export const XNNPACK_OPTIONS = {
  packedCachePath: registerOption({
    key: 'xnnpack.packed_cache_path',
    type: 'string',
    default: '',
    doc: 'File that holds packed weights across processes (XPWC format); empty keeps packed weights on the heap.',
    validate: (v) => (v.includes('\0') ? 'a path cannot contain NUL' : undefined),
  }),
  populate: registerOption({
    key: 'xnnpack.populate',
    type: 'boolean',
    default: false,
    doc: 'Read every packed page of the cache file in while opening (off the JS thread), so the first inference after a warm open takes no page faults.',
  }),
} as const;
