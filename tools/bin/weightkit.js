#!/usr/bin/env node
// The `weightkit` command. Plain JavaScript kept in git so that npm links the
// bin when it installs the workspace, before `npm run build` has compiled
// tools/src: npm does not link a bin whose file does not exist yet.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/bin/weightkit.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("error[WK_NOT_FOUND]: weightkit is not built yet; run 'npm run build' at the repository root\n");
  process.exit(1);
}
await import(entry.href);
