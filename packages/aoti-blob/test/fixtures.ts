// Hand-made AOTInductor layouts for the tests: wrapper.cpp text in both
// codegen forms and blobs built byte by byte, independent of the writer.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wk-aoti-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface HandConst {
  name: string;
  fqn?: string;
  dtype: string; // cached_torch_dtype_ suffix
  device?: 'cpu' | 'cuda';
  shape: number[];
  stride: number[];
  offset?: number;
  dataSize: number;
  folded?: boolean;
  type?: string;
}

/** constants_info_ lines; `legacy` uses static_cast dtypes and omits device_type/layout. */
export function handWrapper(consts: HandConst[], legacy = false): string {
  const out = ['// hand-written for tests', `constants_info_ = std::vector<ConstInfo>(${consts.length});`];
  consts.forEach((c, i) => {
    const p = `constants_info_[${i}]`;
    // Fields deliberately in a shuffled order and odd spacing: the parser must not care.
    out.push(`  ${p}.data_size   = ${c.dataSize};`);
    out.push(`${p}.name = "${c.name}";`);
    out.push(legacy ? `${p}.dtype = static_cast<int32_t>(cached_torch_dtype_${c.dtype});` : `${p}.dtype = cached_torch_dtype_${c.dtype};`);
    if (!legacy) out.push(`${p}.device_type = cached_torch_device_type_${c.device ?? 'cpu'};`);
    out.push(`${p}.shape = {${c.shape.join(', ')}};`, `${p}.stride = {${c.stride.join(',')}};`);
    out.push(`${p}.offset = ${c.offset ?? 0};`, `${p}.from_folded = ${c.folded ? 'true' : 'false'};`);
    out.push(`${p}.type = static_cast<int32_t>(torch::aot_inductor::ConstantType::${c.type ?? (c.folded ? 'FoldedConstant' : 'Parameter')});`);
    if (!legacy) out.push(`${p}.layout = static_cast<int32_t>(cached_torch_layout_strided);`);
    if (c.fqn) out.push(`${p}.original_fqn = "${c.fqn}";`);
  });
  return out.join('\n') + '\n';
}

/** Writes `<dir>/<key>.wrapper.cpp` and `<dir>/<key>.wrapper_weights.blob`. */
export function writeHandModel(dir: string, wrapper: string, blob: Uint8Array, key = 'model'): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${key}.wrapper.cpp`), wrapper);
  writeFileSync(join(dir, `${key}.wrapper_weights.blob`), blob);
  return join(dir, `${key}.wrapper_weights.blob`);
}
