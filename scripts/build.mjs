#!/usr/bin/env node
// `npm run build` (and `build:all`): Nx runs the targets named (default
// `build`: the native addons, then TypeScript; `build:programs`: the native
// tests and benchmarks) for every package.
// Nx's frame around the work (blank lines, the project list, a header per
// task, npm's echo of each script, advice on caching) is dropped, so a cold build prints a screenful of
// what happened; every line a task prints, errors included, is kept.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const nx = join(import.meta.dirname, '..', 'node_modules', 'nx', 'dist', 'bin', 'nx.js');
const targets = process.argv.length > 2 ? process.argv.slice(2) : ['build'];
const child = spawn(process.execPath, [nx, 'run-many', '-t', ...targets, '--outputStyle=static'], {
  env: { NX_DAEMON: 'false', NX_TUI: 'false', ...process.env },
  stdio: ['inherit', 'pipe', 'pipe'],
});

let advice = false;
// Nx colours its frame on a terminal (and where CI asks): judge the text without the escapes.
const ANSI = /\x1b\[[0-9;]*m/g;
const frame = (line) => {
  const text = line.replace(ANSI, '').trim();
  if (/^Recommendations:/.test(text)) advice = true;
  else if (text === '' || /^NX\s/.test(text)) advice = false;
  // '> nx run ...' task headers, and npm's '> pkg@1.0.0 script' / '> command' echo of each script.
  return advice || text === '' || /^- @weightkit\//.test(text) || /^> /.test(text) || /^Recoverable time:/.test(text);
};
for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
  createInterface({ input: from }).on('line', (line) => {
    if (!frame(line)) to.write(`${line}\n`);
  });
}
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
