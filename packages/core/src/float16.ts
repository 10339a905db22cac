/**
 * float16 -> float32, bit for bit what TensorFlow.js's loader produces (the
 * half-to-float table of fox-toolkit's "Fast Half Float Conversions", which
 * tfjs-core uses): NaNs keep their sign and payload (0x7c01 -> 0x7f802000),
 * subnormals become normal floats. Decoded natively (weightkit/dequantize.hpp).
 * @module
 */
import { coreAddon } from './binding.js';
import { freshOutput } from './decode-output.js';
import { WeightkitError, shown } from './errors.js';

/** Decodes little-endian float16 bytes into a new Float32Array. */
export function decodeFloat16(raw: Uint8Array): Float32Array {
  const out = freshOutput('float32', raw.byteLength >> 1) as Float32Array;
  coreAddon().dequantize('float16', raw.subarray(0, out.length * 2), out, 1, 0);
  return out;
}

/** One float16 bit pattern (an integer 0..65535) as a number (the same bits as {@link decodeFloat16}); WK_BAD_ARGUMENT otherwise. */
export function halfToFloat(h: number): number {
  if (!Number.isInteger(h) || h < 0 || h > 0xffff) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `halfToFloat needs a float16 bit pattern, an integer from 0 to 65535; got ${shown(h)}`);
  }
  return decodeFloat16(new Uint8Array([h & 0xff, (h >> 8) & 0xff]))[0]!;
}
