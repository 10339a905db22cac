/**
 * {@link OffloadRuntime}: runs a model whose weights exceed device memory.
 * Weights stay in host memory; device pointers are handed out just in time,
 * within `budgetMb`, with next-use eviction and look-ahead prefetch.
 *
 * While `runPasses` runs (on a worker thread), `stats()` answers from the last
 * finished pass and every other call throws WK_BUSY at once: nothing a runtime
 * does ever blocks the event loop.
 * @module
 */
import { BackendOptions, type NamedDataMap, WeightkitError } from '@weightkit/core';
import { NativeHandle, expectObject, shown, withSignal } from '@weightkit/core/internal';
import { type NativeRuntime, cudaLibraryPath, offloadAddon } from './binding.js';
import { MiB, budgetBytesOf, inRange, offloadLimits } from './budget.js';
import { chooseDevice } from './device.js';
import { CUDA_OPTIONS } from './options.js';
import type { AcquiredWeight, EmuOptions, OffloadStats, ScheduleInput } from './types.js';
import { pinnedIndices, scheduleIndices, weightsOf } from './weights.js';


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
  /**
   * What the planner optimises when a compute cost is modelled: `fastest`
   * (default: the fastest pass, then the fewest bytes) or `fewest-bytes`
   * (the fewest bytes per pass, then the fastest). On models whose weights
   * differ in size the two can differ; see the guide, "Two objectives".
   */
  objective?: 'fastest' | 'fewest-bytes';
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


const DEVICES = ['auto', 'cuda', 'emu'] as const;
const POLICIES = ['next-use', 'lru'] as const;
const OBJECTIVES = ['fastest', 'fewest-bytes'] as const;

/** `value` when it is one of `allowed` (exactly: 'CUDA' and 'gpu' are not devices); WK_BAD_ARGUMENT otherwise. */
function oneOf<T extends string>(value: unknown, what: string, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new WeightkitError('WK_BAD_ARGUMENT', `${what} must be one of ${allowed.join(', ')}; got ${shown(value)}`);
}

function budgetBytes(budgetMb: number | undefined, options: BackendOptions | undefined, totalBytes: number): number {
  return budgetBytesOf(budgetMb ?? (options ?? BackendOptions.fromEnv(process.env, {}, ['cuda'])).get<number>(CUDA_OPTIONS.budgetMb.key), totalBytes);
}

/** Options for {@link OffloadRuntime.runPasses}. */
export interface RunOptions {
  /** Stops after the current pass; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export class OffloadRuntime implements Disposable, AsyncDisposable {
  readonly #native: NativeHandle<NativeRuntime>;
  readonly #budgetBytes: number;
  /** Weight names in catalog order (probe ids address the schedule's uses). */
  readonly weights: readonly string[];
  /** Why this device was chosen. */
  readonly deviceReason: string;

  private constructor(native: NativeRuntime, budget: number, weights: string[], reason: string) {
    this.#native = new NativeHandle(native, 'the offload runtime was closed; create a new one');
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
    expectObject(options, 'OffloadRuntime.create(options)');
    const { weights, names } = weightsOf(options.weights);
    const total = weights.reduce((a, w) => a + w.bytes, 0);
    const budget = budgetBytes(options.budgetMb, options.options, total);
    const requested = options.device !== undefined ? options.device : (options.options ?? BackendOptions.fromEnv(process.env, {}, ['cuda'])).get<'auto' | 'cuda' | 'emu'>(CUDA_OPTIONS.device.key);
    const { device, reason } = chooseDevice(oneOf(requested, 'device', DEVICES));
    if (options.policy !== undefined) oneOf(options.policy, 'policy', POLICIES);
    if (options.objective !== undefined) oneOf(options.objective, 'objective', OBJECTIVES);
    const schedule = scheduleIndices(options.schedule, names);
    const pinned = pinnedIndices(options.pinned, names);
    const lib = cudaLibraryPath();
    const native = await offloadAddon().create({
      weights, budgetBytes: budget, device,
      ...(schedule ? { schedule } : {}),
      ...(pinned ? { pinned } : {}),
      ...(options.policy !== undefined ? { policy: options.policy } : {}),
      ...(options.objective !== undefined ? { objective: options.objective } : {}),
      ...(options.prefetchMb !== undefined ? { prefetchBytes: Math.floor(inRange(options.prefetchMb, 'prefetchMb', offloadLimits().maxBytes / MiB) * MiB) } : {}),
      ...(options.prefetchMs !== undefined ? { prefetchUs: inRange(options.prefetchMs, 'prefetchMs', offloadLimits().maxUs / 1000) * 1000 } : {}),
      ...(options.computeUsPerStep !== undefined ? { computeUsPerStep: inRange(options.computeUsPerStep, 'computeUsPerStep', offloadLimits().maxUs) } : {}),
      ...(options.computeUsPerMiB !== undefined ? { computeUsPerMiB: inRange(options.computeUsPerMiB, 'computeUsPerMiB', offloadLimits().maxUs) } : {}),
      ...(lib ? { cudaLibrary: lib } : {}),
      ...(options.populate ? { populate: true } : {}),
      ...(options.emu ? { emu: { ...options.emu } } : {}),
    });
    return new OffloadRuntime(native, budget, names, reason);
  }

  #live(): NativeRuntime {
    return this.#native.live;
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

  /** True while `runPasses` runs: `stats()` then answers from the last finished pass, other calls throw WK_BUSY. */
  get busy(): boolean {
    return this.#native.current?.busy() ?? false;
  }

  /** One decode pass: acquire, compute and release every step in order (off the JS thread). */
  runPass(options: RunOptions = {}): Promise<void> {
    return this.runPasses(1, options);
  }

  /** `passes` decode passes (1 to 1e9), off the JS thread; WK_BUSY while another run is in flight. */
  runPasses(passes: number, options: RunOptions = {}): Promise<void> {
    const native = this.#live();
    return withSignal(options.signal, (flag) => native.runPasses(passes, flag));
  }

  /** A copy of a resident weight's device bytes (verification). */
  readBack(weight: number | string): Uint8Array {
    const i = typeof weight === 'number' ? weight : this.weights.indexOf(weight);
    if (i < 0) throw new WeightkitError('WK_NOT_FOUND', `no weight named '${String(weight)}'`);
    return this.#live().readBack(i);
  }

  /** The counters; while a run is in flight, as of its last finished pass (never a wait). */
  stats(): OffloadStats {
    const native = this.#live();
    return { ...native.stats(), device: native.device, budgetBytes: this.#budgetBytes };
  }

  /** Hazards the emulated device detected (always empty on CUDA). */
  hazards(): string[] {
    return this.#live().stats().hazards;
  }

  /**
   * Frees the device memory and the host mappings, off the JS thread; a run
   * in flight stops after its current pass. Idempotent.
   */
  close(): Promise<void> {
    return this.#native.close();
  }

  /** `using rt = await OffloadRuntime.create(...)`. */
  [Symbol.dispose](): void {
    void this.close();
  }

  /** `await using rt = ...`: waits until the device memory is freed. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
