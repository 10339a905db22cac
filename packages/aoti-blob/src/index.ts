/**
 * @weightkit/aoti-blob — zero-copy PyTorch AOTInductor weights.
 *
 * - {@link AotiWeights}: open a `.pt2`, an extracted model folder, a
 *   `<key>.wrapper_weights.blob` (with its `<key>.wrapper.cpp`), or a `.so`
 *   with its weights appended or embedded; every constant is a view of one
 *   read-only mapping, validated before a byte is touched.
 * - {@link parseConstantsInfo}: the catalog of a `wrapper.cpp`.
 * - {@link writePt2}, {@link writeAotiFolder}: write AOTI weights from any
 *   NamedDataMap (safetensors, TF.js).
 * - Importing this package registers AOTInductor with core's format
 *   registry, so `openNamedDataMap` opens these files too.
 *
 * Format facts: docs/formats/aoti.md.
 *
 * @packageDocumentation
 */
import './format.js';
export { AotiWeights, type AotiOpenOptions, type AotiSource } from './weights.js';
export { CONSTANT_TYPES, parseConstantsInfo, type AotiConstant, type ConstantType } from './constants.js';
export { writeAotiFolder, writePt2, type AotiWriteOptions, type AotiWriteResult, type Pt2Model } from './writer.js';
