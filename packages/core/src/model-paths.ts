/**
 * Paths as users give them, and paths as files give them.
 *
 * - A path the **user** names is followed through symbolic links, as every
 *   tool does: a Hugging Face hub cache keeps `snapshots/<rev>/<file>` as a
 *   link into `blobs/<sha256>`.
 * - A path a **file** names (a TF.js shard, a shard of a safetensors index,
 *   a file weightkit picks in a model folder) must stay inside the model's
 *   folder: relative, no `..`; and if the file there is a link, it must
 *   resolve inside the folder or, for a hub snapshot
 *   (`.../models--org--name/snapshots/<rev>/`), inside that repository's
 *   `blobs/`. Anything else is refused with WK_BAD_FORMAT naming the link: a
 *   hostile folder or archive must not make weightkit read the user's files.
 *
 * Also here: which file of a model folder to open, as transformers chooses.
 * @module
 */
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { debug } from './debug.js';
import { WeightkitError, fromSystemError, shown } from './errors.js';

/** The real path of `path`, followed through every symbolic link; WK_NOT_FOUND when it leads nowhere. */
export function realPathOf(path: string): string {
  try {
    return realpathSync.native(path);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
}

const HUB_SNAPSHOT = /^(.*[/](?:models|datasets|spaces)--[^/]+)[/]snapshots[/][^/]+$/;

/** The `blobs/` folder of the hub repository whose snapshot `folder` (a real path) is, if it is one. */
export function hubBlobsOf(folder: string): string | undefined {
  const m = HUB_SNAPSHOT.exec(folder);
  return m ? join(m[1]!, 'blobs') : undefined;
}

/**
 * The real path of `name`, a file that a file of the model names, inside the
 * model folder `folder` (a real path). `what` says who named it, for messages.
 */
export function memberPath(folder: string, name: string, what: string): string {
  const rel = normalize(name);
  if (name.length === 0 || name.includes('\0') || isAbsolute(name) || rel === '..' || rel.startsWith(`..${sep}`) || rel.split(sep).includes('..')) {
    throw new WeightkitError('WK_BAD_FORMAT', `${what} ${shown(name)} leaves the model's folder '${folder}'`);
  }
  const named = join(folder, rel);
  // A plain entry of the (real) folder is its own real path: no realpath(3), one lstat.
  if (!rel.includes(sep) && !isLink(named)) return named;
  let real: string;
  try {
    real = realpathSync.native(named);
  } catch (e) {
    const err = fromSystemError(e, `${what} '${named}'`);
    throw err.code === 'WK_NOT_FOUND' ? new WeightkitError('WK_NOT_FOUND', `${what} '${named}' is missing`) : err;
  }
  const blobs = hubBlobsOf(folder);
  if (real.startsWith(folder + sep) || (blobs !== undefined && real.startsWith(blobs + sep))) return real;
  throw new WeightkitError('WK_BAD_FORMAT',
    `${what} '${named}' is a link to '${real}', outside the model's folder '${folder}'${blobs ? ` and its hub repository's ${blobs}` : ''}; weightkit does not follow it`);
}

/** Options for opening a model folder. */
export interface FolderOptions {
  /** The file of the folder to open instead of the one weightkit would choose (a name inside it). */
  readonly weights?: string;
  /** For a hub repository folder (`models--org--name`): a branch or tag in `refs/`, or a commit in `snapshots/` (default `main`). */
  readonly revision?: string;
}

/**
 * What a model folder's files are tried in, as transformers chooses: the
 * safetensors index, the single safetensors file, the PyTorch index and
 * file; then TF.js and .pt2.
 */
const PREFERRED = ['model.safetensors.index.json', 'model.safetensors', 'pytorch_model.bin.index.json', 'pytorch_model.bin', 'model.json'];
const BY_SUFFIX = ['.safetensors.index.json', '.safetensors', '-weights_manifest.json', '.pt2'];

function isHubRepo(dir: string): boolean {
  return /^(?:models|datasets|spaces)--/.test(basename(dir)) && existsSync(join(dir, 'snapshots'));
}

/** The snapshot folder a hub repository folder's `revision` names. */
function snapshotOf(repo: string, revision: string): string {
  if (!/^[A-Za-z0-9._-][A-Za-z0-9._/-]*$/.test(revision) || revision.split('/').includes('..')) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `revision ${shown(revision)} is not a branch, tag or commit name`);
  }
  const ref = join(repo, 'refs', revision);
  let commit = revision;
  if (existsSync(ref)) {
    commit = readFileSync(ref, 'utf8').trim();
    if (!/^[0-9a-f]{40}$/.test(commit)) throw new WeightkitError('WK_BAD_FORMAT', `'${ref}' does not hold a commit hash`);
  }
  const snapshot = join(repo, 'snapshots', commit);
  if (!existsSync(snapshot)) {
    const list = (d: string) => (existsSync(d) ? readdirSync(d).join(', ') || 'none' : 'none');
    throw new WeightkitError('WK_NOT_FOUND',
      `hub repository '${repo}' has no snapshot for revision '${revision}' (refs: ${list(join(repo, 'refs'))}; snapshots: ${list(join(repo, 'snapshots'))}); pass --revision`);
  }
  return snapshot;
}

/**
 * The path to open for the model at `path`: `path` itself when it is a file;
 * for a folder, the file chosen in it (or in the snapshot a hub repository
 * folder's `refs/main` names), or the folder itself when it holds none of
 * those files (a reader of folders, such as AOTI's, may still take it).
 */
export function modelPathIn(path: string, options: FolderOptions = {}): string {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw fromSystemError(e, `cannot open '${path}'`);
  }
  if (!st.isDirectory()) {
    if (options.weights !== undefined || options.revision !== undefined) {
      throw new WeightkitError('WK_BAD_ARGUMENT', `'${path}' is a file: the weights and revision options choose within a model folder`);
    }
    return path;
  }
  const dir = isHubRepo(path) ? snapshotOf(path, options.revision ?? 'main') : path;
  if (options.revision !== undefined && dir === path) {
    throw new WeightkitError('WK_BAD_ARGUMENT', `'${path}' is not a hub repository folder (models--org--name): a revision chooses among its snapshots`);
  }
  const real = realPathOf(dir);
  const names = readdirSync(dir);
  const chosen = options.weights ?? PREFERRED.find((n) => names.includes(n)) ?? firstBySuffix(names);
  if (chosen === undefined) return dir;
  if (options.weights !== undefined && !names.includes(options.weights)) {
    throw new WeightkitError('WK_NOT_FOUND', `'${dir}' holds no ${shown(options.weights)}; it holds: ${names.sort().join(', ') || 'nothing'}`);
  }
  memberPath(real, chosen, 'the model file'); // confined, like every file a folder names
  debug('model folder %s: opening %s%s', path, chosen, dir !== path ? ` (snapshot ${basename(dir)})` : '');
  return join(dir, chosen);
}

function firstBySuffix(names: string[]): string | undefined {
  for (const suffix of BY_SUFFIX) {
    const found = names.filter((n) => n.endsWith(suffix)).sort();
    if (found.length > 0) return found[0];
  }
  return undefined;
}

/** WK_NOT_FOUND for a folder nothing could read, listing what it holds. */
export function nothingToRead(dir: string): WeightkitError {
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    // listed as nothing
  }
  const shownNames = names.slice(0, 20).map((n) => (lstatSync(join(dir, n), { throwIfNoEntry: false })?.isDirectory() ? `${n}/` : n));
  return new WeightkitError('WK_NOT_FOUND',
    `'${dir}' holds no weights weightkit reads (safetensors, a safetensors index, TF.js, .pt2, an AOTI folder); it holds: ${shownNames.join(', ') || 'nothing'}${names.length > 20 ? `, ... (${names.length})` : ''}`);
}

/** The folder a manifest or index at `path` (as the user named it) names its files in, as a real path. */
export function namedFolderOf(path: string, real?: string): string {
  // realpath(3) reads every component of a path (27 readlink calls per TF.js
  // open measured): when `real` (realPathOf(path)) is known and the last
  // component is no link, its folder is the real folder already.
  if (real !== undefined && !path.split(sep).includes('..') && !isLink(path)) return dirname(real);
  return realPathOf(dirname(resolve(path)));
}

/** True when `path` itself is a symbolic link; false when it is not, or cannot be looked at (the caller's realpath then says why). */
function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return true;
  }
}
