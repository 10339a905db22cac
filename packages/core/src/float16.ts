/**
 * float16 -> float32 by table, bit for bit what TensorFlow.js's loader
 * produces (the half-to-float conversion of fox-toolkit's "Fast Half Float
 * Conversions", which tfjs-core uses): NaNs keep their sign and payload
 * (0x7c01 -> 0x7f802000), subnormals become normal floats, and one table
 * look-up per value replaces a per-element conversion.
 * @module
 */

let table: Uint32Array | undefined;

/** float32 bits of every float16 bit pattern (256 KiB, built on first use). */
function halfTable(): Uint32Array {
  if (table) return table;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    let bits: number;
    if (exp === 0) {
      if (mant === 0) {
        bits = 0;
      } else {
        // Subnormal: shift the mantissa up to a normal float32.
        let m = mant << 13;
        let e = 0x38800000;
        while ((m & 0x00800000) === 0) {
          e -= 0x00800000;
          m <<= 1;
        }
        bits = (m & ~0x00800000) + e;
      }
    } else if (exp === 0x1f) {
      bits = 0x7f800000 + (mant << 13); // inf, or NaN with its payload
    } else {
      bits = ((exp + 112) << 23) + (mant << 13);
    }
    t[h] = (sign + bits) >>> 0;
  }
  table = t;
  return t;
}

/** Decodes little-endian float16 bytes into a new Float32Array. */
export function decodeFloat16(raw: Uint8Array): Float32Array {
  const n = raw.byteLength >> 1;
  const halves = raw.byteOffset % 2 === 0 ? new Uint16Array(raw.buffer, raw.byteOffset, n) : new Uint16Array(raw.slice(0, n * 2).buffer);
  const t = halfTable();
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = t[halves[i]!]!;
  return new Float32Array(out.buffer);
}

/** One float16 bit pattern as a number (the same bits as {@link decodeFloat16}). */
export function halfToFloat(h: number): number {
  const f = new Float32Array(new Uint32Array([halfTable()[h & 0xffff]!]).buffer);
  return f[0]!;
}
