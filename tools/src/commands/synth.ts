/** `weightkit synth --size <n> --out <file> [--dtype f32|f16|bf16]`. @module */
import { WeightkitError, writeSafetensorsAsync } from '@weightkit/core';
import { parse, parseSize, positionals } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { interruptible } from '../cli/interrupt.js';
import { Progress, formatBytes, printJson } from '../cli/output.js';
import { SYNTH_DTYPES, synthModel } from '../synth/model.js';

const usage = `usage: weightkit synth --size <n>[KiB|MiB|GiB] --out <file.safetensors> [--dtype f32|f16|bf16] [--json]

Writes a deterministic synthetic decoder-style model (embedding, per-layer
attention with q/k/v biases, SwiGLU MLP, norms) of about the given size.`;

export const synth: Command = {
  name: 'synth',
  summary: 'write a deterministic synthetic model of a given size',
  usage,
  async run(argv) {
    const { values, positionals: pos } = parse(
      argv,
      { size: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string', default: 'f32' }, json: { type: 'boolean' } },
      usage,
    );
    positionals(pos, 0, usage);
    if (!values.size || !values.out) throw new WeightkitError('WK_BAD_ARGUMENT', '--size and --out are required');
    const dtype = SYNTH_DTYPES[values.dtype as keyof typeof SYNTH_DTYPES];
    if (!dtype) throw new WeightkitError('WK_BAD_ARGUMENT', `--dtype must be one of ${Object.keys(SYNTH_DTYPES).join(', ')}, got '${values.dtype}'`);
    const { shape, entries } = synthModel(parseSize(values.size, '--size'), dtype);
    const progress = new Progress(`writing ${values.out}`);
    let total = 0;
    try {
      // Ctrl-C stops between chunks and leaves no partial file behind.
      await interruptible(`${values.out} was not written`, (signal) => writeSafetensorsAsync(values.out!, entries, {
        metadata: { generator: 'weightkit synth', ...Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, String(v)])) },
        onProgress: (done, all) => {
          total = all;
          progress.update(done, all);
        },
        signal,
      }));
    } finally {
      progress.done();
    }
    const result = { path: values.out, dtype, tensors: entries.length, totalBytes: total, ...shape };
    if (values.json) printJson(result);
    else process.stdout.write(`wrote ${values.out}: ${entries.length} tensors, ${formatBytes(total)} (${shape.layers} layers, hidden ${shape.hidden}, ${dtype})\n`);
  },
};
