/**
 * Every benchmark, declared once: what it measures, its default size, how to
 * run it and how to report it. The `weightkit bench` command and the npm
 * scripts reach benchmarks only through this table; benchmarks never import
 * the CLI layer.
 * @module
 */
import { nativeProgram } from '../native-programs.js';
import { aotiReport, runAotiBench } from './aoti.js';
import { layoutsReport, requireTorch, runLayoutsBench } from './layouts.js';
import { requirePackages } from './requirements.js';
import type { BenchPage } from './page.js';
import { offloadReport, runOffloadBench } from './offload.js';
import { runScaleBench, scaleReport } from './scale.js';
import { runTfjsBench, tfjsReport } from './tfjs.js';
import { runXnnpackBench, xnnpackReport } from './xnnpack.js';

/** What every benchmark accepts (each ignores what it has no use for). */
export interface BenchOptions {
  sizeBytes: number;
  /** Repeats: runs (aoti, xnnpack), passes per configuration (offload), loads per process (tfjs). */
  runs?: number;
  workDir?: string;
  device?: 'emu' | 'cuda';
  log?: (line: string) => void;
}

export interface Benchmark {
  readonly name: string;
  /** Usage lines for `weightkit bench --help`. */
  readonly describe: string;
  readonly defaultSizeBytes: number;
  /**
   * Checks, before any work, that what the benchmark runs is here (an
   * optional package, a native program, a peer); WK_NOT_FOUND says what to
   * install.
   */
  requires?(): void;
  /** Measures, then reports: the page to write and the verdicts to print. */
  run(options: BenchOptions): Promise<{ page: BenchPage; checks: unknown }>;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const opt = (o: BenchOptions) => ({
  sizeBytes: o.sizeBytes, ...(o.workDir ? { workDir: o.workDir } : {}), ...(o.log ? { log: o.log } : {}),
});

export const BENCHMARKS: readonly Benchmark[] = [
  {
    name: 'aoti', defaultSizeBytes: GiB,
    describe: "open a .pt2 of --size (default 1GiB) until every constant is addressable,\n  weightkit vs PyTorch's extract-and-copy way, --runs times each (default 5).",
    async run(o) {
      const r = await runAotiBench({ ...opt(o), ...(o.runs ? { runs: o.runs } : {}) });
      return { page: aotiReport(r), checks: r.checks };
    },
  },
  {
    name: 'xnnpack', defaultSizeBytes: GiB,
    requires: () => void nativeProgram('xnnpack_bench'),
    describe: 'the packed-weights cache on a --size model (default 1GiB): cold pack vs\n  warm open, dirty vs clean pages, 50 load/unload cycles, 4 processes sharing,\n  packer throughput vs memcpy, fallocate vs sparse ftruncate (default 3 runs),\n  and, where WEIGHTKIT_XNNPACK_DIR was set at build, operator creation with the\n  real XNNPACK: weightkit cold/warm vs its own weights cache.',
    async run(o) {
      const r = await runXnnpackBench({ ...opt(o), ...(o.runs ? { runs: o.runs } : {}) });
      return { page: xnnpackReport(r), checks: r.checks };
    },
  },
  {
    name: 'offload', defaultSizeBytes: 256 * MiB,
    describe: 'a budget sweep x policy x prefetch depth for a --size model (default\n  256MiB) and a mixed-size sweep, --runs passes per configuration (default 5),\n  on the emulated CUDA runtime or, with --device cuda, on the GPU (writes offload-cuda.*).',
    async run(o) {
      const r = await runOffloadBench({ ...opt(o), ...(o.runs ? { passes: o.runs } : {}), ...(o.device ? { device: o.device } : {}) });
      return { page: offloadReport(r), checks: { ...r.result.checks, mixedSizes: r.result.mixedSizes.checks, ...(r.result.emulatedPassChecks ? { emulatedPass: r.result.emulatedPassChecks } : {}) } };
    },
  },
  {
    name: 'scale', defaultSizeBytes: 2 ** 40,
    describe: 'how weightkit grows with the model: sparse Hub-sharded snapshots from 1 GiB to\n  --size (default 1TiB) at 1,000 tensors and 100 to 8,000 tensors at 16 GiB (open +\n  catalog, offload plan; --runs each, default 5), one emulated offload pass up to\n  64 GiB, and cache pack, verify and convert of real data up to 4 GiB, each against\n  a plain copy of the same bytes; log-log slopes.',
    async run(o) {
      const r = await runScaleBench({ ...opt(o), ...(o.runs ? { runs: o.runs } : {}) });
      return { page: scaleReport(r), checks: r.checks };
    },
  },
  {
    name: 'layouts', defaultSizeBytes: GiB,
    requires: requireTorch,
    describe: 'models as they lie on disk: open a 4-shard sparse 12 GiB snapshot and list\n  its catalog; a --size (default 1GiB) pytorch_model.bin written by torch.save:\n  open + every page vs torch.load (python3-torch), convert --to safetensors vs\n  a plain copy; --runs runs each (default 5).',
    async run(o) {
      const r = await runLayoutsBench({ ...opt(o), ...(o.runs ? { runs: o.runs } : {}) });
      return { page: layoutsReport(r), checks: r.checks };
    },
  },
  {
    name: 'tfjs', defaultSizeBytes: 64 * MiB,
    requires: () => requirePackages('bench tfjs', ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@vladmandic/face-api']),
    describe: "open + every value decoded, weightkit vs tfjs-core's loader, on the\n  bundled face-api models and float16/uint8/float32 test models of --size\n  (default 64MiB), --runs loads per process (default 7).",
    async run(o) {
      const r = await runTfjsBench({ ...opt(o), ...(o.runs ? { runs: o.runs } : {}) });
      return { page: tfjsReport(r), checks: r.checks };
    },
  },
];
