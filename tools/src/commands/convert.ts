/** `weightkit convert <model> --to safetensors --out <file> [--max-shard-size <n>]`. @module */
import { WeightkitError, convertToSafetensors } from '@weightkit/core';
import { parse, parseSize, positionals } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { interruptible } from '../cli/interrupt.js';
import { Progress, formatBytes, printJson } from '../cli/output.js';
import { MODEL_OPTIONS, MODEL_USAGE, openWeights } from '../open-weights.js';

const usage = `usage: weightkit convert <model> --to safetensors --out <file.safetensors> [--max-shard-size <n>GB] [--json]

Writes every tensor of <model> (a PyTorch checkpoint, a sharded checkpoint,
TF.js, AOTI, safetensors) as safetensors, streamed and atomically, without
Python: the Hub's "convert to safetensors". Quantized TF.js weights are
written decoded, non-contiguous PyTorch tensors contiguous. With
--max-shard-size (e.g. 5GB, 500MiB) the output is <stem>-0000i-of-0000N.safetensors
beside --out and <stem>.safetensors.index.json (shards first, index last).
  --json   print {files, index?, tensors, bytes}

${MODEL_USAGE}`;

export const convert: Command = {
  name: 'convert',
  summary: 'write any model weightkit reads as safetensors (sharded with an index if asked)',
  usage,
  async run(argv) {
    const { values, positionals: pos } = parse(argv, {
      to: { type: 'string' }, out: { type: 'string' }, 'max-shard-size': { type: 'string' }, json: { type: 'boolean' }, ...MODEL_OPTIONS,
    }, usage);
    const [model] = positionals(pos, 1, usage);
    if (values.to !== 'safetensors') throw new WeightkitError('WK_BAD_ARGUMENT', `--to must be safetensors, got ${values.to === undefined ? 'nothing' : `'${values.to}'`} (for AOTI, use 'weightkit aoti convert')`);
    const out = values.out;
    if (!out) throw new WeightkitError('WK_BAD_ARGUMENT', '--out is required (a .safetensors file)');
    const maxShard = values['max-shard-size'] !== undefined ? parseSize(values['max-shard-size'], '--max-shard-size') : undefined;
    const map = await openWeights(model!, values);
    const progress = new Progress(`writing ${out}`);
    try {
      const result = await interruptible(`${out} was not written`, (signal) => convertToSafetensors(map, out, {
        signal, onProgress: (done, total) => progress.update(done, total), ...(maxShard !== undefined ? { maxShardBytes: maxShard } : {}),
      }));
      progress.done();
      if (values.json) printJson(result);
      else process.stdout.write(`wrote ${result.index ?? result.files[0]}: ${result.tensors} tensors, ${formatBytes(result.bytes)}${result.index ? ` in ${result.files.length} shards` : ''}\n`);
    } finally {
      map.close();
    }
  },
};
