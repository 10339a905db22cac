/** `weightkit aoti inspect|convert`. @module */
import { extname } from 'node:path';
import { WeightkitError } from '@weightkit/core';
import { AotiWeights, writeAotiFolder, writePt2 } from '@weightkit/aoti-blob';
import { parse, positionals } from '../cli/args.js';
import { type Command, withSubcommands } from '../cli/command.js';
import { interruptible } from '../cli/interrupt.js';
import { Progress, formatBytes, printJson, printTable } from '../cli/output.js';
import { MODEL_OPTIONS, MODEL_USAGE, openWeights } from '../open-weights.js';

const usage = `usage: weightkit aoti inspect <path> [--model <name>] [--json]
       weightkit aoti convert <model> --out <file.pt2 | folder> [--device cpu|cuda] [--json]

inspect: the full catalog of an AOTInductor model (.pt2, extracted folder,
  <key>.wrapper_weights.blob, or .so with weights appended or embedded).
  --json prints {payloadBytes, constants: [{name, fqn, dtype, shape, stride,
  offset, dataSize, fromFolded, type, payloadOffset}]}.
convert: writes any model weightkit reads (safetensors, TF.js, AOTI) as AOTI
  weights: a .pt2 package when --out ends in .pt2, else a model folder.

${MODEL_USAGE}`;

/** The `--json` document of `weightkit aoti inspect` (public interface). */
export interface AotiInspectJson {
  payloadBytes: number;
  constants: {
    name: string; fqn: string; dtype: string; shape: number[]; stride: number[]; offset: number;
    dataSize: number; fromFolded: boolean; type: string; payloadOffset: number | null;
  }[];
}

/** Builds the inspect document of open AOTI weights. */
export function describeAoti(w: AotiWeights): AotiInspectJson {
  return {
    payloadBytes: w.blobSize,
    constants: w.constants.map((c) => ({
      name: c.name, fqn: c.fqn, dtype: c.dtype, shape: [...c.shape], stride: [...c.stride], offset: c.offset,
      dataSize: c.dataSize, fromFolded: c.fromFolded, type: c.type, payloadOffset: c.payloadOffset,
    })),
  };
}

async function inspect(argv: string[]): Promise<void> {
  const { values, positionals: pos } = parse(argv, { json: { type: 'boolean' }, model: { type: 'string' } }, usage);
  const [path] = positionals(pos, 1, usage);
  const w = await AotiWeights.open(path!, values.model !== undefined ? { model: values.model } : {});
  try {
    const doc = describeAoti(w);
    if (values.json) return printJson(doc);
    process.stdout.write(`${path} (AOTI ${w.source.kind}${w.source.model ? `, model ${w.source.model}` : ''}; payload at byte ${w.source.offset} of ${w.source.path})\n`);
    printTable(
      ['name', 'fqn', 'dtype', 'shape', 'stride', 'offset', 'dataSize', 'payloadOffset', 'type'],
      doc.constants.map((c) => [
        c.name, c.fqn, c.dtype, `[${c.shape.join(', ')}]`, `[${c.stride.join(', ')}]`, String(c.offset), String(c.dataSize),
        c.fromFolded ? 'folded' : String(c.payloadOffset), c.type,
      ]),
    );
    process.stdout.write(`${doc.constants.length} constants, payload ${doc.payloadBytes} bytes (${formatBytes(doc.payloadBytes)}), ${w.padded ? 'padded to 64' : 'tight'}\n`);
  } finally {
    w.close();
  }
}

async function convert(argv: string[]): Promise<void> {
  const { values, positionals: pos } = parse(
    argv,
    { out: { type: 'string' }, device: { type: 'string', default: 'cpu' }, json: { type: 'boolean' }, ...MODEL_OPTIONS },
    usage,
  );
  const [model] = positionals(pos, 1, usage);
  if (!values.out) throw new WeightkitError('WK_BAD_ARGUMENT', '--out is required (a .pt2 file or a folder)');
  if (values.device !== 'cpu' && values.device !== 'cuda') throw new WeightkitError('WK_BAD_ARGUMENT', `--device must be cpu or cuda, got '${values.device}'`);
  const map = await openWeights(model!, values);
  const progress = new Progress(`writing ${values.out}`);
  try {
    const out = values.out;
    const result = await interruptible(`${out} was not written`, (signal) => {
      const options = { device: values.device as 'cpu' | 'cuda', onProgress: (done: number, total: number) => progress.update(done, total), signal };
      return extname(out) === '.pt2' ? writePt2(out, map, options) : writeAotiFolder(map, out, options);
    });
    progress.done();
    if (values.json) printJson(result);
    else process.stdout.write(`wrote ${result.path}: ${result.constants} constants, payload ${formatBytes(result.payloadBytes)}\n`);
  } finally {
    map.close();
  }
}

export const aoti: Command = withSubcommands('aoti', 'inspect or write AOTInductor weights (.pt2, folders, blobs, .so)', usage, { inspect, convert });
