/**
 * @weightkit/xnnpack-cache — a persistent, file-backed packed-weights cache.
 *
 * Status: this package currently registers its options; the cache itself is
 * tracked by its own issue (see the repository README).
 *
 * @packageDocumentation
 */
export { XNNPACK_OPTIONS } from './options.js';
