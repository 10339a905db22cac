/** `weightkit cache pack|inspect|verify|compact`. @module */
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { WeightkitError, fileFootprint, readFootprint } from '@weightkit/core';
import { type CacheStats, PackedWeightsCache, splitEntryName } from '@weightkit/xnnpack-cache';
import { parse, parsePositiveInt, positionals } from '../cli/args.js';
import { type Command, withSubcommands } from '../cli/command.js';
import { Progress, formatBytes, printJson, printTable } from '../cli/output.js';
import { MODEL_OPTIONS, MODEL_USAGE, openWeights } from '../open-weights.js';

const usage = `usage: weightkit cache pack <model> --cache <file> [--packer f32-gemm|qc8w] [--nr N] [--hash-inputs] [--json] [--footprint]
       weightkit cache inspect <file> [--json]
       weightkit cache verify <file> [--json]
       weightkit cache compact <file> [--json]

pack: packs every weight of rank >= 2 of <model> (with its bias) into the XPWC
  cache <file>; a second run finds them all (packed: 0). --json prints
  {entries, packed, hits, fileBytes, heapFallbackBytes, millis}; --footprint
  reads every packed page once, then adds the Rss and clean/dirty bytes of the
  cache file's mappings.
inspect: {version, fileBytes, orphanBytes, entries: [{name, offset, size, seed, kernel?, bias?}]}
  (name is the stored key, kernel and bias names appended; kernel and bias
  where the name splits unambiguously);
  reads files written by ExecuTorch too.
verify: exit 0 only when every entry matches its checksum.
compact: rewrites the file without orphans; refused while anyone has it open.

${MODEL_USAGE}`;

/** The `--json` document of `weightkit cache pack` (public interface). */
export interface CachePackJson {
  entries: number;
  packed: number;
  hits: number;
  fileBytes: number;
  /** Bytes packed on the heap instead of the file, by reason: the same object as the API's `stats().heapFallbackBytes`. */
  heapFallbackBytes: CacheStats['heapFallbackBytes'];
  millis: number;
  footprint?: { rss: number; privateDirty: number; sharedDirty: number; privateClean: number; sharedClean: number };
}

async function pack(argv: string[]): Promise<number | void> {
  const { values, positionals: pos } = parse(argv, {
    cache: { type: 'string' }, packer: { type: 'string', default: 'f32-gemm' }, nr: { type: 'string' },
    json: { type: 'boolean' }, footprint: { type: 'boolean' }, 'hash-inputs': { type: 'boolean' }, ...MODEL_OPTIONS,
  }, usage);
  const [model] = positionals(pos, 1, usage);
  if (!values.cache) throw new WeightkitError('WK_BAD_ARGUMENT', '--cache <file> is required');
  if (values.packer !== 'f32-gemm' && values.packer !== 'qc8w') {
    throw new WeightkitError('WK_BAD_ARGUMENT', `--packer must be f32-gemm or qc8w, got '${values.packer}'`);
  }
  const t0 = performance.now();
  const map = await openWeights(model!, values);
  const cache = await PackedWeightsCache.open({ path: values.cache });
  const progress = new Progress('packing');
  try {
    // packModel saves: the file ends in a trailer when it returns.
    const r = await cache.packModel(map, {
      packer: values.packer, ...(values.nr ? { nr: parsePositiveInt(values.nr, '--nr') } : {}),
      hashInputs: values['hash-inputs'] ?? false, onProgress: (d, t) => progress.update(d, t, 'items'),
    });
    progress.done();
    const s = cache.stats();
    const doc: CachePackJson = {
      entries: r.entries, packed: r.packed, hits: r.hits, fileBytes: s.fileBytes,
      heapFallbackBytes: { ...s.heapFallbackBytes },
      millis: Number((performance.now() - t0).toFixed(3)),
    };
    if (values.footprint) {
      // Packed pages are mapped lazily: read each once, as a runtime would, so
      // the footprint shows what using the weights costs.
      let sink = 0;
      for (const name of cache.names()) {
        const v = cache.view(name)!;
        for (let i = 0; i < v.length; i += 4096) sink += v[i]!;
      }
      const fp = readFootprint();
      if (fp) {
        const f = fileFootprint(fp, resolve(values.cache));
        doc.footprint = { rss: f.rss, privateDirty: f.privateDirty, sharedDirty: f.sharedDirty, privateClean: f.privateClean, sharedClean: f.sharedClean };
      }
    }
    if (values.json) return printJson(doc);
    process.stdout.write(
      `${values.cache}: ${r.entries} weights, ${r.packed} packed (${formatBytes(r.packedBytes)}), ${r.hits} found in the cache; ` +
        `file ${formatBytes(s.fileBytes)}, heap fallback ${formatBytes(Object.values(doc.heapFallbackBytes).reduce((a, b) => a + b, 0))}, ${doc.millis.toFixed(1)} ms\n`,
    );
  } finally {
    cache.close();
    map.close();
  }
}

async function inspect(argv: string[]): Promise<void> {
  const { values, positionals: pos } = parse(argv, { json: { type: 'boolean' } }, usage);
  const [file] = positionals(pos, 1, usage);
  const info = await PackedWeightsCache.inspectFile(file!);
  const entries = info.entries.map((e) => ({ ...e, ...splitEntryName(e.name) }));
  const doc = { version: info.version, fileBytes: info.fileBytes, orphanBytes: info.orphanBytes, entries };
  if (values.json) return printJson(doc);
  process.stdout.write(`${file}: XPWC v${info.version}${info.integrity ? ' with weightkit integrity record' : ''}${info.recovered ? ' (recovered an earlier trailer)' : ''}\n`);
  printTable(['kernel + bias', 'offset', 'size', 'seed'], entries.map((e) => [e.bias ? `${e.kernel} + ${e.bias}` : e.name, String(e.offset), String(e.size), String(e.seed)]));
  process.stdout.write(`${info.entries.length} entries, file ${formatBytes(info.fileBytes)}, orphans ${formatBytes(info.orphanBytes)}\n`);
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals: pos } = parse(argv, { json: { type: 'boolean' } }, usage);
  const [file] = positionals(pos, 1, usage);
  const r = await PackedWeightsCache.verifyFile(file!);
  if (values.json) printJson(r);
  else {
    process.stdout.write(`${file}: ${r.checked} entries checked, ${r.unchecked} without checksums, ${r.bad.length} damaged\n`);
    for (const b of r.bad) process.stdout.write(`  damaged: ${b}\n`);
  }
  if (r.bad.length > 0) {
    process.stderr.write(`error[WK_CORRUPT]: ${r.bad.length} entries of '${file}' do not match their checksums; delete or compact the cache\n`);
    return 1;
  }
  return 0;
}

async function compact(argv: string[]): Promise<void> {
  const { values, positionals: pos } = parse(argv, { json: { type: 'boolean' } }, usage);
  const [file] = positionals(pos, 1, usage);
  const r = await PackedWeightsCache.compactFile(file!);
  if (values.json) return printJson(r);
  process.stdout.write(`${file}: ${r.entries} entries, ${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)}\n`);
}

export const cache: Command = withSubcommands('cache', 'pack a model into a persistent XPWC cache; inspect, verify, compact caches', usage, {
  pack,
  inspect,
  verify,
  compact,
});
