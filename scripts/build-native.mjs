#!/usr/bin/env node
// The workspace's native build of one package: cmake-js configure + build into
// build/, with the compiler's chatter kept in build/native-build.log and a few
// lines of progress on the terminal. A failed build prints the log's tail, so
// nothing needed to fix it is hidden.
//   node build-native.mjs             the shipped binaries and the demo's programs (`build:native`, what `npm start` needs)
//   node build-native.mjs --programs  everything, the native tests and benchmarks too (`build:programs`)
//
// This build is for this machine (build/Release, which the loader tries
// first). The prebuilt binaries the npm tarballs ship come from
// scripts/prebuild, in an old-glibc userland, never from here.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const name = JSON.parse(readFileSync('package.json', 'utf8')).name;
const programs = process.argv.includes('--programs');
const what = programs ? 'native tests and benchmarks' : 'native addon';
const cmakeJs = join(import.meta.dirname, '..', 'node_modules', 'cmake-js', 'bin', 'cmake-js');
mkdirSync('build', { recursive: true });
const logPath = join('build', programs ? 'native-programs.log' : 'native-build.log');
const log = createWriteStream(logPath);
const started = Date.now();
const seconds = () => `${Math.round((Date.now() - started) / 1000)} s`;
let progress = '';

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cmakeJs, ...args, '--out', 'build', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk) => {
      log.write(chunk);
      // ninja "[12/40]" or make "[ 30%]": the last one seen is the progress.
      const steps = [...chunk.toString().matchAll(/^\[\s*(\d+)\/(\d+)\]|^\[\s*(\d+)%\]/gm)].pop();
      if (steps) progress = steps[3] !== undefined ? `${steps[3]}%` : `${Math.round((100 * Number(steps[1])) / Number(steps[2]))}%`;
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

console.log(`${name}: building the ${what} (log: ${join(process.cwd(), logPath)})`);
const ticker = setInterval(() => console.log(`${name}: still compiling${progress ? ` (${progress})` : ''}, ${seconds()}`), 20_000);
// build:programs runs after build:native, which configured build/.
let code = programs ? 0 : await run(['configure']);
if (code === 0) code = await run(programs ? ['build'] : ['build', '--target', 'weightkit_start']);
clearInterval(ticker);
await new Promise((resolve) => log.end(resolve));
if (code !== 0) {
  const lines = readFileSync(logPath, 'utf8').split('\n');
  console.error(lines.slice(-60).join('\n'));
  console.error(`${name}: the native build failed after ${seconds()} (whole log: ${join(process.cwd(), logPath)})`);
  process.exit(code);
}
console.log(`${name}: ${what} built in ${seconds()}`);
