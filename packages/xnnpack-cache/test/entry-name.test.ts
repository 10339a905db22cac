// Entry names: kernel + bias appended as ExecuTorch keys them, and the split
// `cache inspect` shows where the name alone tells it.
import { describe, expect, it } from 'vitest';
import { entryName, splitEntryName } from '@weightkit/xnnpack-cache';

describe('entry names', () => {
  it('split back into kernel and bias where the bias repeats the kernel\'s path', () => {
    for (const [kernel, bias] of [
      ['conv32_down/conv/filters', 'conv32_down/conv/bias'],
      ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.q_proj.bias'],
      ['fc/w', 'fc/b'],
    ] as const) {
      expect(splitEntryName(entryName(kernel, bias))).toEqual({ kernel, bias });
    }
  });

  it('say nothing for a kernel without a bias, or a name without a path', () => {
    expect(splitEntryName(entryName('conv/filters'))).toBeUndefined();
    expect(splitEntryName(entryName('w', 'b'))).toBeUndefined();
    expect(splitEntryName('a/xa/y')).toEqual({ kernel: 'a/x', bias: 'a/y' });
  });
});
