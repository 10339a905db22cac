/**
 * @weightkit/core/internal — what the weightkit packages share among
 * themselves and an app has no use for: addon loading, native handles, atomic
 * writes, argument checks, cancellation, text escaping.
 *
 * Not covered by semver: it changes together with the weightkit packages,
 * which depend on one exact version of @weightkit/core. Apps import
 * `@weightkit/core`.
 *
 * @module
 */
export { escapeControls, shown } from './errors.js';
export { closest, reserveVariable } from './options.js';
export { elfProblem, findNativeFile, loadNativeAddon, nativeFileCandidates, prebuildTag, type AddonBase } from './native-loader.js';
export { cancelFlag, withSignal } from './abort.js';
export { NativeHandle } from './native-handle.js';
export {
  TEMPORARY_MARK, removeStaleTemporaries, temporaryOwner, writeAll, writeFileAtomically, writeFileAtomicallySync, writeFolderAtomically,
} from './atomic-write.js';
export { expectArray, expectNamedDataMap, expectObject } from './arguments.js';
