/**
 * {@link OffloadRuntime}: runs a model whose weights exceed device memory.
 * Weights stay in host memory; device pointers are handed out just in time,
 * within `budgetMb`, with next-use eviction and look-ahead prefetch.
 * @module
 */
import { BackendOptions, type NamedDataMap, type TensorInfo, WeightkitError, dtypeInfo } from '@weightkit/core';
import { type NativeRuntime, cudaLibraryPath, offloadAddon } from './binding.js';
import { chooseDevice } from './device.js';
import { CUDA_OPTIONS } from './options.js';

const MiB = 1024 * 1024;

/** A schedule: steps in order, each the names (or catalog indices) of the weights it uses. */
export type ScheduleInput = readonly (string | number | readonly (string | number)[])[];

/** The emulated device's model. */
export interface EmuOptions {
  /** Host-to-device bandwidth for pinned or registered memory, GB/s (default 25, PCIe 4 x16). */
  h2dGBps?: number;
  /** Fixed cost per copy, microseconds (default 5). */
  copyLatencyUs?: number;
  /** Pageable copies run at this fraction of the bandwidth (default 0.33). */
  pageableFactor?: number;
  /** Whether host memory can be registered in place (default true; false exercises the staging ring). */
  hostRegister?: boolean;
}

/** Options for {@link OffloadRuntime.create}. */
export interface OffloadOptions {
  /** The model's weights, in the order of the default schedule. */
  weights: NamedDataMap;
  /** Device memory for weights, MiB (2^20 bytes). Default: `cuda.weight_offload_budget_mb`. */
  budgetMb?: number;
  /** The uses of one pass (default: catalog order, one use per weight). */
  schedule?: ScheduleInput;
  /** `auto` (default: `cuda.device`): CUDA when a device is present, else the emulator. */
  device?: 'auto' | 'cuda' | 'emu';
  /** `next-use` (default, Belady) or `lru` (a comparison baseline). */
  policy?: 'next-use' | 'lru';
  /** Weights kept resident for the runtime's lifetime. */
  pinned?: readonly string[];
  /** Look-ahead: at most this many MiB copied ahead of compute (default: unlimited within the budget). */
  prefetchMb?: number;
  /** Look-ahead: at most this much modelled compute time ahead, ms (default: unlimited). */
  prefetchMs?: number;
  /** Modelled compute cost of a step: fixed microseconds... */
  computeUsPerStep?: number;
  /** ...plus microseconds per MiB of weights the step reads. */
  computeUsPerMiB?: number;
  /** Pre-fault the host files when mapping them. */
  populate?: boolean;
  /** The emulated device's model (ignored on CUDA). */
  emu?: EmuOptions;
  /** Backend options to read defaults from (default: the environment). */
  options?: BackendOptions;
}

/** One weight handed out by {@link OffloadRuntime.acquire}. */
export interface AcquiredWeight {
  /** Catalog index. */
  weight: number;
  name: string;
  /** Device address, valid until the weight is released and evicted. */
  devicePtr: bigint;
  bytes: number;
  /** True when it was already on the device. */
  hit: boolean;
}

/** Counters of a runtime. Times are virtual on the emulated device. */
export interface OffloadStats {
  device: 'cuda' | 'emu';
  budgetBytes: number;
  /** Bytes copied host-to-device so far. */
  bytesH2D: number;
  /** Uses served from device memory / that needed a copy. */
  hits: number;
  misses: number;
  evictions: number;
  /** Copies started before their use (look-ahead). */
  prefetches: number;
  passes: number;
  /** Time the compute stream waited for copies. */
  stallMs: number;
  /** Time the copy engine was busy. */
  copyMs: number;
  /** Modelled compute time. */
  computeMs: number;
  /** The pool's used-memory watermark: never above the budget. */
  peakDeviceBytes: number;
  residentBytes: number;
  /** Bytes that went through the pinned staging ring (host memory not registered). */
  stagedBytes: number;
  /** Synchronize-and-retry after the pool refused an allocation. */
  allocRetries: number;
  hostRegistered: boolean;
  /** Share of copy time hidden behind compute (1 = all). */
  overlap: number;
  bytesH2DPerPass: number[];
  msPerPass: number[];
  stallMsPerPass: number[];
  copyMsPerPass: number[];
  /**
   * The residency plan chosen at create: weights kept on the device for good,
   * the reserve copies run ahead into, and whether copies for the next pass
   * may start before the current one ends. With a compute model
   * (`computeUsPerStep` / `computeUsPerMiB`) it is the plan whose dry run on a
   * timing device gave the fastest pass, within one largest weight of the
   * fewest bytes; without one, the plan that moves the fewest bytes.
   */
  residency: OffloadResidency;
  /**
   * Plain host-to-device copies from pinned memory on this device, GB/s (1e9
   * bytes): the best of three timed 8 MiB copies at create, through the same
   * device layer (on the emulator, its configured bandwidth). The baseline the
   * runtime's own copy rate is compared with.
   */
  pinnedCopyGBps: number;
  /** The GPU's name on CUDA; "emulated CUDA runtime" on the emulator. */
  deviceName: string;
}

/** The residency plan a runtime runs with (see {@link OffloadStats.residency}). */
export interface OffloadResidency {
  pinnedWeights: number;
  pinnedBytes: number;
  reserveBytes: number;
  prefetchAcrossPasses: boolean;
}

/** One weight as the runtime sees it: its device size and where its host bytes are. */
export interface OffloadWeight {
  name: string;
  bytes: number;
  /** A file range the runtime maps itself... */
  path?: string;
  offset?: number;
  length?: number;
  /** ...or bytes it copies (decoded tensors). */
  data?: Uint8Array;
}

/** Bytes a tensor takes on the device: what `get()` returns (quantized tensors decoded). */
export function deviceBytes(t: TensorInfo): number {
  if (!t.quantization) return t.byteLength;
  return t.shape.reduce((a, b) => a * b, 1) * (dtypeInfo(t.dtype).bits / 8);
}

/** Weights and schedule indices from a map. */
export function weightsOf(map: NamedDataMap): { weights: OffloadWeight[]; names: string[] } {
  const weights: OffloadWeight[] = [];
  for (const t of map.catalog) {
    if (t.byteLength === 0) continue;
    const loc = map.location?.(t.name);
    if (loc) {
      weights.push({ name: t.name, bytes: loc.length, path: loc.path, offset: loc.offset, length: loc.length });
    } else {
      const v = map.get(t.name);
      weights.push({ name: t.name, bytes: v.byteLength, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    }
  }
  return { weights, names: weights.map((w) => w.name) };
}

/** Resolves names to catalog indices; WK_BAD_ARGUMENT names an unknown weight. */
export function scheduleIndices(schedule: ScheduleInput | undefined, names: readonly string[]): number[][] | undefined {
  if (!schedule) return undefined;
  const index = new Map(names.map((n, i) => [n, i]));
  const resolve = (x: string | number): number => {
    if (typeof x === 'number') {
      if (!Number.isInteger(x) || x < 0 || x >= names.length) throw new WeightkitError('WK_BAD_ARGUMENT', `schedule index ${x} is not a weight (0..${names.length - 1})`);
      return x;
    }
    const i = index.get(x);
    if (i === undefined) throw new WeightkitError('WK_BAD_ARGUMENT', `schedule names '${x}', which is not a weight of the model`);
    return i;
  };
  return schedule.map((step) => (Array.isArray(step) ? (step as (string | number)[]).map(resolve) : [resolve(step as string | number)]));
}

function budgetBytes(budgetMb: number | undefined, options: BackendOptions | undefined, totalBytes: number): number {
  const mb = budgetMb ?? (options ?? BackendOptions.fromEnv(process.env, {}, ['cuda'])).get<number>(CUDA_OPTIONS.budgetMb.key);
  if (typeof mb !== 'number' || !Number.isFinite(mb) || mb < 0) throw new WeightkitError('WK_BAD_ARGUMENT', `budgetMb must be a non-negative number, got ${String(mb)}`);
  return mb === 0 ? totalBytes : Math.floor(mb * MiB);
}

export class OffloadRuntime {
  #native: NativeRuntime | undefined;
  readonly #budgetBytes: number;
  /** Weight names in catalog order (probe ids address the schedule's uses). */
  readonly weights: readonly string[];
  /** Why this device was chosen. */
  readonly deviceReason: string;

  private constructor(native: NativeRuntime, budget: number, weights: string[], reason: string) {
    this.#native = native;
    this.#budgetBytes = budget;
    this.weights = Object.freeze(weights);
    this.deviceReason = reason;
  }

  /**
   * Validates the budget against the schedule's floor (WK_BUDGET states the
   * MiB needed), maps the weights' host memory, registers it with the device
   * where possible, and loads the pinned set. Runs off the JS thread.
   */
  static async create(options: OffloadOptions): Promise<OffloadRuntime> {
    const { weights, names } = weightsOf(options.weights);
    const total = weights.reduce((a, w) => a + w.bytes, 0);
    const budget = budgetBytes(options.budgetMb, options.options, total);
    const requested = options.device ?? (options.options ?? BackendOptions.fromEnv(process.env, {}, ['cuda'])).get<'auto' | 'cuda' | 'emu'>(CUDA_OPTIONS.device.key);
    const { device, reason } = chooseDevice(requested);
    const schedule = scheduleIndices(options.schedule, names);
    const pinned = options.pinned ? scheduleIndices(options.pinned, names)!.flat() : undefined;
    const lib = cudaLibraryPath();
    const native = await offloadAddon().create({
      weights, budgetBytes: budget, device,
      ...(schedule ? { schedule } : {}),
      ...(pinned ? { pinned } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.prefetchMb !== undefined ? { prefetchBytes: Math.floor(options.prefetchMb * MiB) } : {}),
      ...(options.prefetchMs !== undefined ? { prefetchUs: options.prefetchMs * 1000 } : {}),
      ...(options.computeUsPerStep !== undefined ? { computeUsPerStep: options.computeUsPerStep } : {}),
      ...(options.computeUsPerMiB !== undefined ? { computeUsPerMiB: options.computeUsPerMiB } : {}),
      ...(lib ? { cudaLibrary: lib } : {}),
      ...(options.populate ? { populate: true } : {}),
      ...(options.emu ? { emu: { ...options.emu } } : {}),
    });
    return new OffloadRuntime(native, budget, names, reason);
  }

  #live(): NativeRuntime {
    if (!this.#native) throw new WeightkitError('WK_CLOSED', 'the offload runtime was closed; create a new one');
    return this.#native;
  }

  /** `cuda` or `emu`. */
  get device(): 'cuda' | 'emu' {
    return this.#live().device;
  }

  /** The device pointer for the use at `probeId`, ready for the compute stream; prefetches what comes next. */
  acquire(probeId: number): AcquiredWeight {
    return this.#live().acquire(probeId);
  }

  /** Strict cursor mode: the next use must be `name`; WK_BAD_ARGUMENT names the expected and the actual weight. */
  acquireNext(name: string): AcquiredWeight {
    return this.#live().acquireNext(name);
  }

  /** Ends the use at `probeId` (the weight may then be evicted). */
  release(probeId: number): void {
    this.#live().release(probeId);
  }

  /** A compute step of the modelled cost reading every weight of schedule step `step`. */
  compute(step: number): void {
    this.#live().compute(step);
  }

  /** One decode pass: acquire, compute and release every step in order (off the JS thread). */
  runPass(): Promise<void> {
    return this.#live().runPasses(1);
  }

  /** `passes` decode passes. */
  runPasses(passes: number): Promise<void> {
    return this.#live().runPasses(passes);
  }

  /** A copy of a resident weight's device bytes (verification). */
  readBack(weight: number | string): Uint8Array {
    const i = typeof weight === 'number' ? weight : this.weights.indexOf(weight);
    if (i < 0) throw new WeightkitError('WK_NOT_FOUND', `no weight named '${String(weight)}'`);
    return this.#live().readBack(i);
  }

  stats(): OffloadStats {
    const native = this.#live();
    return { ...native.stats(), device: native.device, budgetBytes: this.#budgetBytes };
  }

  /** Hazards the emulated device detected (always empty on CUDA). */
  hazards(): string[] {
    return this.#live().hazards();
  }

  /** Frees the device memory and the host mappings. Idempotent. */
  close(): void {
    this.#native?.close();
    this.#native = undefined;
  }
}
