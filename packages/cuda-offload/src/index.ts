/**
 * @weightkit/cuda-offload — run models larger than GPU memory.
 *
 * Weights stay in host memory (a mapped file, registered in place where the
 * device allows, else fed through a small pinned staging ring) and are
 * streamed to the GPU through a capped `cudaMemPool` on a dedicated copy
 * stream, under `budgetMb`, with next-use (Belady) eviction in the known
 * cyclic schedule and look-ahead prefetch. Without a GPU the same device
 * code runs on an emulated CUDA runtime with a virtual clock and hazard checks.
 *
 * - {@link OffloadRuntime}: create, acquire/release, compute, runPass, stats.
 * - {@link plan}: floor, lower bound and planned bytes per pass for a budget;
 *   {@link scheduleFacts}: what the schedule asks of any budget.
 * - {@link probeCuda}, {@link chooseDevice}: which device is used, and why.
 *
 * @packageDocumentation
 */
export { OffloadRuntime, type OffloadOptions, type RunOptions } from './offload.js';
export type { AcquiredWeight, EmuOptions, OffloadLimits, OffloadResidency, OffloadStats, OffloadWeight, ScheduleInput } from './types.js';
export { deviceBytes, scheduleIndices, weightsOf } from './weights.js';
export { offloadLimits } from './budget.js';
export { plan, scheduleFacts, simulateEviction, type OffloadPlan, type ScheduleFacts } from './plan.js';
export { chooseDevice, probeCuda, type CudaProbe } from './device.js';
export { CUDA_OPTIONS } from './options.js';
