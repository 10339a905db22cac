/**
 * Options of the CUDA weight-offload runtime, registered in the shared
 * {@link @weightkit/core!BackendOptions} registry when this package is imported.
 * @module
 */
import { registerOption } from '@weightkit/core';

/** The options @weightkit/cuda-offload reads. */
export const CUDA_OPTIONS = {
  budgetMb: registerOption({
    key: 'cuda.weight_offload_budget_mb',
    type: 'integer',
    default: 0,
    min: 0,
    max: 1 << 30,
    doc: 'Device memory for weights in MiB (2^20 bytes); 0 means no offload (every weight resident).',
  }),
  device: registerOption({
    key: 'cuda.device',
    type: 'enum',
    default: 'auto',
    values: ['auto', 'cuda', 'emu'],
    doc: "Which runtime serves weights: 'cuda' (a real GPU), 'emu' (the emulated CUDA runtime) or 'auto' (CUDA when a device is present).",
  }),
} as const;
