/**
 * A deterministic synthetic decoder-only transformer (Llama/Qwen layout) of
 * about a requested size, for benchmarks at realistic scale: the same
 * arguments always produce the same bytes.
 * @module
 */
import { type DType, type SafetensorsWriteEntry, WeightkitError, storageBytes } from '@weightkit/core';

/** dtypes `weightkit synth` can write. */
export const SYNTH_DTYPES = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' } as const satisfies Record<string, DType>;

/** The architecture chosen for a size. */
export interface SynthShape {
  hidden: number;
  ffn: number;
  layers: number;
  vocab: number;
}

function round8(n: number): number {
  return Math.max(8, Math.round(n / 8) * 8);
}

/**
 * Picks an architecture whose parameters fill about `bytes`: more layers for
 * bigger models, vocab = 8 x hidden, SwiGLU MLP with ffn = 8/3 x hidden.
 */
export function synthShape(bytes: number, itemBytes: number): SynthShape {
  const params = bytes / itemBytes;
  const layers = Math.max(2, Math.min(32, Math.round(Math.log2(Math.max(1, bytes / (1 << 20)))) + 2));
  // per layer: 4 d^2 (attention) + 3 d * ffn (mlp) = 12 d^2; embedding 8 d^2.
  const hidden = round8(Math.sqrt(params / (8 + 12 * layers)));
  return { hidden, ffn: round8((hidden * 8) / 3), layers, vocab: hidden * 8 };
}

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toHalf(v: number): number {
  // Round-to-nearest for normal values; synthetic weights never need subnormals.
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | ((x >>> 13) & 0x3ff);
}

/**
 * A filler producing uniform values in [-amp, amp) (norm weights: around 1)
 * from a stream seeded by the tensor's name. Chunks must be requested in order.
 */
function filler(name: string, dtype: DType, norm: boolean) {
  const next = prng(hashName(name));
  const amp = 0.05;
  return (chunk: Uint8Array) => {
    if (dtype === 'float32' && chunk.byteOffset % 4 === 0 && chunk.byteLength % 4 === 0) {
      // Fast path (little-endian hosts, which is every platform weightkit supports).
      const out = new Float32Array(chunk.buffer, chunk.byteOffset, chunk.byteLength / 4);
      for (let i = 0; i < out.length; i++) out[i] = (norm ? 1 : 0) + (next() / 4294967296 - 0.5) * 2 * amp;
      return;
    }
    const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const item = dtype === 'float32' ? 4 : 2;
    for (let i = 0; i + item <= chunk.byteLength; i += item) {
      const v = (norm ? 1 : 0) + (next() / 4294967296 - 0.5) * 2 * amp;
      if (dtype === 'float32') dv.setFloat32(i, v, true);
      else if (dtype === 'float16') dv.setUint16(i, toHalf(v), true);
      else {
        f32[0] = v;
        dv.setUint16(i, u32[0]! >>> 16, true);
      }
    }
  };
}

/** The tensors of a synthetic model of about `bytes` (see {@link synthShape}). */
export function synthModel(bytes: number, dtype: 'float32' | 'float16' | 'bfloat16'): { shape: SynthShape; entries: SafetensorsWriteEntry[] } {
  if (!Number.isSafeInteger(bytes) || bytes < 1024) throw new WeightkitError('WK_BAD_ARGUMENT', `--size must be at least 1KiB, got ${bytes} bytes`);
  const item = Number(storageBytes(dtype, 1n));
  const s = synthShape(bytes, item);
  const entries: SafetensorsWriteEntry[] = [];
  const add = (name: string, shape: number[], norm = false) => entries.push({ name, dtype, shape, data: filler(name, dtype, norm) });
  add('model.embed_tokens.weight', [s.vocab, s.hidden]);
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [s.hidden], true);
    for (const proj of ['q', 'k', 'v']) {
      add(`${p}.self_attn.${proj}_proj.weight`, [s.hidden, s.hidden]);
      add(`${p}.self_attn.${proj}_proj.bias`, [s.hidden]);
    }
    add(`${p}.self_attn.o_proj.weight`, [s.hidden, s.hidden]);
    add(`${p}.post_attention_layernorm.weight`, [s.hidden], true);
    add(`${p}.mlp.gate_proj.weight`, [s.ffn, s.hidden]);
    add(`${p}.mlp.up_proj.weight`, [s.ffn, s.hidden]);
    add(`${p}.mlp.down_proj.weight`, [s.hidden, s.ffn]);
  }
  add('model.norm.weight', [s.hidden], true);
  return { shape: s, entries };
}
