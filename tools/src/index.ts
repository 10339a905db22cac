/**
 * @weightkit/tools — the `weightkit` CLI as a library: {@link main} runs it,
 * {@link COMMANDS} lists its commands.
 * @packageDocumentation
 */
export { main, COMMANDS } from './main.js';
export type { Command } from './cli/command.js';
export type { InspectJson } from './commands/inspect.js';
export type { AotiInspectJson } from './commands/aoti.js';
export type { CachePackJson } from './commands/cache.js';
export type { OffloadRunJson } from './commands/offload.js';
export { openWeights } from './open-weights.js';
export { synthModel, synthShape, SYNTH_DTYPES, type SynthShape } from './synth/model.js';
export { defaultModel, defaultModelDir, defaultManifests } from './default-model.js';
