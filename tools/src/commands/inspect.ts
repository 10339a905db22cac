/** `weightkit inspect <model> [--json]`. @module */
import { type FileListing, type NamedDataMap, detectFormats } from '@weightkit/core';
import { MODEL_OPTIONS, MODEL_USAGE, openWeights } from '../open-weights.js';
import { parse, positionals } from '../cli/args.js';
import type { Command } from '../cli/command.js';
import { formatBytes, printJson, printTable } from '../cli/output.js';

const usage = `usage: weightkit inspect <model> [--json] [--weights <file>] [--revision <rev>]

Detects the format of <model> (safetensors; a TensorFlow.js model.json or
*-weights_manifest.json; an AOTInductor .pt2, model folder, blob or .so; an
XPWC packed-weights cache) and lists every tensor: name, dtype, shape, bytes.
  --json   print {format, tensors: [{name, dtype, shape, byteLength}], totalBytes}

${MODEL_USAGE}`;

/** The `--json` document of `weightkit inspect` (public interface). */
export interface InspectJson {
  format: string;
  tensors: { name: string; dtype: string; shape: number[]; byteLength: number }[];
  totalBytes: number;
}

/** Builds the inspect document of an open map. */
export function describeMap(map: NamedDataMap): InspectJson {
  const tensors = [...map.catalog].map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], byteLength: t.byteLength }));
  return { format: map.format, tensors, totalBytes: map.catalog.totalBytes };
}

/** Prints the human table of an inspect document. */
export function printInspect(doc: InspectJson, title: string): void {
  process.stdout.write(`${title} (${doc.format})\n`);
  printTable(
    ['name', 'dtype', 'shape', 'bytes'],
    doc.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, String(t.byteLength)]),
  );
  process.stdout.write(`${doc.tensors.length} tensors, ${doc.totalBytes} bytes (${formatBytes(doc.totalBytes)})\n`);
}

/** A file of an inspect-only format (a packed-weights cache): its entries are opaque bytes. */
function describeListing(listing: FileListing): InspectJson {
  const tensors = listing.entries.map((e) => ({ name: e.name, dtype: 'uint8', shape: [e.byteLength], byteLength: e.byteLength }));
  return { format: listing.format, tensors, totalBytes: tensors.reduce((a, t) => a + t.byteLength, 0) };
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'list the tensors of a weights file',
  usage,
  async run(argv) {
    const { values, positionals: pos } = parse(argv, { json: { type: 'boolean' }, ...MODEL_OPTIONS }, usage);
    const [file] = positionals(pos, 1, usage);
    let doc: InspectJson;
    try {
      const map = await openWeights(file!, values);
      try {
        doc = describeMap(map);
      } finally {
        map.close();
      }
    } catch (e) {
      // Not weights a reader opens: a file of an inspect-only format, when one recognises it.
      const lister = detectFormats(file!).find((f) => f.list);
      if (!lister?.list) throw e;
      doc = describeListing(await lister.list(file!));
    }
    if (values.json) printJson(doc);
    else printInspect(doc, file!);
  },
};
