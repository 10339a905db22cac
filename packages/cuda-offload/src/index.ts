/**
 * @weightkit/cuda-offload — stream weights through a capped cudaMemPool.
 *
 * Status: this package currently registers its options; the runtime itself is
 * tracked by its own issue (see the repository README).
 *
 * @packageDocumentation
 */
export { CUDA_OPTIONS } from './options.js';
