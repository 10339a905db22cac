/**
 * @weightkit/xnnpack-cache — a persistent, file-backed packed-weights cache.
 *
 * Packed weights live in `MAP_SHARED` file pages instead of dirty heap; the
 * next process maps the file and packs nothing. The file format is
 * ExecuTorch's XPWC (read and written byte-compatibly), with an integrity
 * record ExecuTorch ignores. See docs/formats/xpwc.md.
 *
 * - {@link PackedWeightsCache}: open, packModel, view, finalize, save, release,
 *   verify, compact, stats, close; and the core WeightsCache contract.
 * - {@link planPack}: which tensors are packed, with which bias.
 * - A C provider for native runtimes: native/include/weightkit/xnnpack/provider.h.
 *
 * @packageDocumentation
 */
export {
  PackedWeightsCache, bytesOf, type CacheKey, type PackModelResult, type PackOptions, type PackedWeightsCacheOptions,
} from './cache.js';
export type { CacheFileInfo, CacheStats, CompactReport, VerifyReport } from './types.js';
export { biasCandidates, planPack, type PackPlanItem } from './pack-plan.js';
export { XNNPACK_OPTIONS } from './options.js';
export { entryName, splitEntryName } from './entry-name.js';
export { XPWC_MAGIC, sniffXpwc } from './format.js';
