/**
 * Which tensors of a model are packed, with which bias, as which matrix.
 * @module
 */
import type { DType, NamedDataMap, TensorInfo } from '@weightkit/core';
import type { NativePackItem, NativeSource } from './binding.js';

/** One weight to pack. */
export interface PackPlanItem {
  /** The cache entry name: weight name + bias name (ExecuTorch's key). */
  readonly name: string;
  readonly weight: string;
  readonly bias?: string;
  /** Output channels. */
  readonly nc: number;
  /** Inputs per output channel (product of the other dimensions). */
  readonly kc: number;
  /** `oi`: stored [out, in...] (PyTorch); `io`: stored [in..., out] (TensorFlow / TF.js). */
  readonly layout: 'oi' | 'io';
}

const FLOATS = new Set<DType>(['float32', 'float16', 'bfloat16']);

/** Bias names a weight may have, by the conventions of PyTorch and TF.js exports. */
export function biasCandidates(weight: string): string[] {
  const rules: [RegExp, string[]][] = [
    [/\.weight$/, ['.bias']],
    [/\/weights$/, ['/biases', '/bias']],
    [/\/filters$/, ['/bias', '/biases']],
    [/\/kernel$/, ['/bias']],
    [/\/depthwise_filter$/, ['/bias']],
  ];
  for (const [re, subs] of rules) if (re.test(weight)) return subs.map((s) => weight.replace(re, s));
  return [];
}

function floatTensor(t: TensorInfo): boolean {
  return FLOATS.has(t.dtype);
}

/**
 * Every weight of rank >= 2 with a float dtype, with its bias when the model
 * has one (rank 1, one value per output channel), in catalog order. Entry
 * names are `namespace + weight name + bias name`.
 */
export function planPack(map: NamedDataMap, namespace = ''): { items: PackPlanItem[]; skipped: string[] } {
  const items: PackPlanItem[] = [];
  const skipped: string[] = [];
  const layout = map.format === 'tfjs' ? 'io' : 'oi';
  for (const t of map.catalog) {
    if (t.shape.length < 2) continue;
    if (!floatTensor(t) || t.shape.some((d) => d === 0)) {
      skipped.push(t.name);
      continue;
    }
    const nc = layout === 'oi' ? t.shape[0]! : t.shape[t.shape.length - 1]!;
    const kc = t.shape.reduce((a, b) => a * b, 1) / nc;
    const bias = biasCandidates(t.name).find((b) => {
      if (!map.catalog.has(b)) return false;
      const bi = map.catalog.get(b);
      return bi.shape.length === 1 && bi.shape[0] === nc && floatTensor(bi);
    });
    items.push({ name: namespace + t.name + (bias ?? ''), weight: t.name, ...(bias ? { bias } : {}), nc, kc, layout });
  }
  return { items, skipped };
}

/** Where the packer reads a tensor: its file range when it has one, else decoded bytes. */
export function packSource(map: NamedDataMap, name: string): NativeSource {
  const info = map.info(name);
  const loc = map.location?.(name);
  const dtype = info.dtype as NativeSource['dtype'];
  if (loc) return { dtype, path: loc.path, offset: loc.offset, length: loc.length, ...(loc.fileId ? { fileId: loc.fileId } : {}) };
  const v = map.get(name);
  return { dtype, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
}

/** The addon's form of a plan item. */
export function nativeItem(map: NamedDataMap, item: PackPlanItem): NativePackItem {
  return {
    name: item.name, nc: item.nc, kc: item.kc, layout: item.layout,
    weight: packSource(map, item.weight), ...(item.bias ? { bias: packSource(map, item.bias) } : {}),
  };
}
