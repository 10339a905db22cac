/**
 * @weightkit/core — the contracts every weightkit backend shares.
 *
 * - {@link WeightkitError} and the {@link ERROR_CODES} table;
 * - dtypes ({@link dtypeInfo}), tensor descriptions and the validated {@link WeightCatalog};
 * - {@link NamedDataMap}s: zero-copy views of safetensors ({@link SafetensorsMap}, sharded:
 *   {@link ShardedMap}), PyTorch checkpoints ({@link PyTorchMap}, never running their pickle) and TensorFlow.js ({@link TfjsMap}) weights, opened by
 *   {@link openNamedDataMap} from a file, a model folder or a Hugging Face hub cache;
 * - {@link BackendOptions}, the typed option registry;
 * - the {@link WeightsCache} contract (implemented by @weightkit/xnnpack-cache);
 * - {@link readFootprint}, the memory-footprint reader;
 * - {@link FileMapping}, the read-only mapping everything above is built on.
 *
 * What the weightkit packages share among themselves (addon loading, atomic
 * writes, argument checks) is in `@weightkit/core/internal`, outside semver.
 *
 * @packageDocumentation
 */
export { ERROR_CODES, WeightkitError, isWeightkitError, fromSystemError, type ErrorCode } from './errors.js';
export {
  DTYPES, DTYPE_TABLE, SAFETENSORS_DTYPES, TFJS_DTYPES, dtypeInfo, dtypeFromC10, dtypeFromSafetensors, dtypeFromTfjs,
  isDType, safetensorsName, storageBytes, typedView, type DType, type DTypeInfo, type TypedArray,
} from './dtype.js';
export {
  WeightCatalog, numelOf, validateTensorInfo, type CatalogOptions, type Quantization, type TensorInfo,
} from './catalog.js';
export type { FileRange, NamedDataMap, WeightFormat } from './named-data-map.js';
export {
  SafetensorsMap, SAFETENSORS_MAX_HEADER_BYTES, parseSafetensorsHeader, readSafetensorsHeader,
  readSafetensorsHeaderSync, safetensorsHeaderLength, type SafetensorsHeader, type SafetensorsOpenOptions,
} from './safetensors.js';
export { convertToSafetensors, type ConvertOptions, type ConvertResult } from './convert.js';
export { ShardedMap, SHARD_INDEX_MAX_BYTES, parseShardIndex, type ShardIndex, type ShardedOpenOptions } from './sharded.js';
export { PyTorchMap, PYTORCH_MAX_PICKLE_BYTES, readPyTorchCatalogSync, type PyTorchOpenOptions } from './pytorch.js';
export { TORCH_STORAGE_DTYPES, unpickleStateDict, type PickleValue, type TorchGlobal, type TorchStorage, type TorchTensor } from './torch-pickle.js';
export {
  type FolderOptions, hubBlobsOf, memberPath, modelPathIn, realPathOf,
} from './model-paths.js';
export {
  TfjsMap, TFJS_MAX_MANIFEST_BYTES, dequantize, parseTfjsManifest, readTfjsManifestSync,
  type TfjsGroup, type TfjsManifest,
} from './tfjs.js';
import './open.js';
export {
  detectFormats, openNamedDataMap, openNamedDataMapSync, probeFile, registerFormat, registeredFormats,
  type FileListing, type FileProbe, type OpenOptions, type WeightsFormat,
} from './formats.js';
export {
  BackendOptions, CORE_OPTIONS, VARIABLE_NAMESPACES, envName, namespaceOf, optionSpecs, parseOptionText, registerOption,
  type OptionSpec, type OptionType,
} from './options.js';
export type { WeightsCache, WeightsCacheKey } from './weights-cache.js';
export {
  fileFootprint, parseSmaps, readFootprint, readFootprintAsync,
  type Footprint, type FootprintCounts, type MappingFootprint,
} from './footprint.js';
export { FileMapping, type Advice, type FileMappingOptions } from './mapping.js';
export { decodeFloat16, halfToFloat } from './float16.js';
export {
  writeSafetensors, writeSafetensorsAsync, type SafetensorsWriteEntry, type SafetensorsWriteOptions, type TensorFiller,
} from './safetensors-writer.js';
