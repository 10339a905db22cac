/**
 * weightkit's debug channel: `NODE_DEBUG=weightkit` prints the choices the
 * library makes on its own (which addon binary loaded, which file of a model
 * folder or hub snapshot was opened, which reader took a file) on stderr.
 * Silent, and nearly free, otherwise.
 * @module
 */
import { debuglog } from 'node:util';

/** Logs one line on the `weightkit` debug channel (printf-style, as util.debuglog). */
export const debug: (message: string, ...args: unknown[]) => void = debuglog('weightkit');
