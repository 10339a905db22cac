/** What every benchmark's runner takes; each says what its `runs` and `sizeBytes` mean. @module */
export interface BenchRunOptions {
  sizeBytes?: number;
  runs?: number;
  /** Where models and caches are written (default: a folder under the OS's temporary folder). */
  workDir?: string;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}
