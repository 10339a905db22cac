/**
 * @weightkit/aoti-blob — zero-copy PyTorch AOTInductor weights.
 *
 * Status: placeholder entry point; the loader is tracked by its own issue.
 *
 * @packageDocumentation
 */
export {};
