/**
 * Entry names of an XPWC cache: ExecuTorch keys a packed weight by its
 * kernel's name with its bias's name appended, no separator
 * (`conv/filtersconv/bias`). Both directions live here.
 * @module
 */

/** The entry name of a kernel packed with `bias` (ExecuTorch's key). */
export function entryName(kernel: string, bias?: string): string {
  return kernel + (bias ?? '');
}

function parentOf(name: string): string {
  return name.slice(0, Math.max(name.lastIndexOf('/'), name.lastIndexOf('.')) + 1);
}

/**
 * The kernel and bias names an entry name was made of, where one split says
 * so: the bias name repeats the kernel's path up to its last `/` or `.`
 * (`conv/filters` + `conv/bias`, `l.0.q_proj.weight` + `l.0.q_proj.bias`).
 * Undefined for a kernel without a bias, or where no split or more than one
 * fits: the name alone cannot tell.
 */
export function splitEntryName(name: string): { kernel: string; bias: string } | undefined {
  let found: { kernel: string; bias: string } | undefined;
  for (let i = 1; i < name.length; i++) {
    const kernel = name.slice(0, i), bias = name.slice(i), parent = parentOf(kernel);
    if (parent === '' || kernel.length === parent.length || bias.length === parent.length || !bias.startsWith(parent)) continue;
    if (found) return undefined;
    found = { kernel, bias };
  }
  return found;
}
