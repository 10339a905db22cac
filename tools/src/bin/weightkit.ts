#!/usr/bin/env node
/**
 * The `weightkit` executable. Exit codes: 0 ok; 1 refused input or failure
 * (one line `error[CODE]: message` on stderr); 2 usage; 130 (143) when a
 * writing command was interrupted by Ctrl-C (SIGTERM) and left nothing behind.
 * @module
 */
import { main } from '../main.js';

// A closed pipe (`weightkit inspect x | head`) is the reader's choice, not a failure.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
