/**
 * The data shapes of @weightkit/cuda-offload: what a runtime is given and what
 * it reports. Field names are public interface (the CLI's JSON uses them).
 * @module
 */

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

/** One weight handed out by `OffloadRuntime.acquire`. */
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
  /**
   * What no policy can move per pass in steady state: every weight the
   * schedule uses minus the budget (0 when everything fits). The yardstick for
   * `bytesH2DPerPass`, without asking the planner again.
   */
  lowerBoundBytesPerPass: number;
  /** Bytes that went through the pinned staging ring (host memory not registered). */
  stagedBytes: number;
  /** Pinned host memory the staging ring holds, allocated once when first needed (0 while every copy is from registered memory). */
  stagingRingBytes: number;
  /** Synchronize-and-retry after the pool refused an allocation. */
  allocRetries: number;
  hostRegistered: boolean;
  /** Share of copy time hidden behind compute (1 = all). */
  overlap: number;
  /** Per pass, the most recent 1000 passes (as are the three series below). */
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
  /** Hazards the emulated device detected (always empty on CUDA). */
  hazards: string[];
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
  /** ...checked against the file as the map opened it (a replaced file is refused). */
  fileId?: string;
  /** ...or bytes it copies (decoded tensors). */
  data?: Uint8Array;
}

/** The offload runtime's limits, as its native core checks them. */
export interface OffloadLimits {
  /** Budgets, look-ahead and weights, bytes (8 TiB). */
  readonly maxBytes: number;
  /** Times: the compute model and look-ahead, microseconds (1e12). */
  readonly maxUs: number;
  /** The emulated device's bandwidth, GB/s. */
  readonly minGBps: number;
  readonly maxGBps: number;
  /** Per-pass series in `stats()`: the most recent passes. */
  readonly passHistory: number;
}
