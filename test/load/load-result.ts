import type { CliResult } from '../helpers/run-cli.js';

/** The --json result of `etl load`, as the contract tests read it. */
export interface LoadResult {
  uploaded: number;
  skipped: number;
  failed: number;
  bytes_uploaded: number;
  files: Array<{ path: string; uri: string; action: string; reason: string; bytes: number; method?: string; parts?: number; verified_with?: string }>;
}

export function loadResultOf(run: CliResult): LoadResult {
  const line = run.stdout.trim().split('\n').at(-1);
  if (!line) throw new Error(`no result on stdout; stderr: ${run.stderr}`);
  return JSON.parse(line) as LoadResult;
}
