import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** GNU time reports a child's peak resident set size (%M, KiB); without it peak RSS is not measured. */
const GNU_TIME = '/usr/bin/time';
export const canMeasureRss = existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true']).status === 0;

export interface Run {
  wallMs: number;
  peakRssMb: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a whole process and measures it: wall time from spawn to exit, peak RSS via GNU time. */
export async function runProcess(command: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const [file, argv] = canMeasureRss ? [GNU_TIME, ['-f', '@@peak-rss-kib %M', command, ...args]] : [command, [...args]];
  const started = performance.now();
  const child = spawn(file, argv, { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wallMs = performance.now() - started;
  const rss = /@@peak-rss-kib (\d+)\s*$/.exec(stderr);
  // Without GNU time's own lines a failure's message ends with the process's last stderr line: why it failed.
  stderr = stderr.replace(/(Command (exited with non-zero status \d+|terminated by signal \d+)\n)?@@peak-rss-kib \d+\s*$/, '');
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`);
  return { wallMs, peakRssMb: rss ? Number(rss[1]) / 1024 : null, stdout, stderr };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface Result {
  scenario: string;
  detail: string;
  runs: number;
  medianWallS: number;
  minWallS: number;
  rows: number | null;
  rowsPerS: number | null;
  /** Input megabytes (or output, for writer scenarios: see `mbOf`) per second. */
  mbPerS: number | null;
  mbOf: 'input' | 'output' | null;
  medianPeakRssMb: number | null;
  note?: string;
}

export interface MeasureOptions {
  runs: number;
  warmUp?: boolean;
  rows?: number;
  megabytes?: number;
  mbOf?: 'input' | 'output';
  note?: string;
}

/**
 * How the scenario modules measure: alone (`npm run bench`), or with etl's CLI paired against a baseline build
 * (`--baseline <ref>`), where the peers are not run.
 */
export interface Measurer {
  /** etl's side of a scenario, one CLI process per run (`once(cli)`): against --baseline, alternated with the old build's CLI. */
  cli(scenario: string, detail: string, options: MeasureOptions, once: (cli: string) => Promise<Run>): Promise<Result>;
  /** Whether to run the peer `scenario` (pandas, DuckDB, psql, node): not against --baseline, where it is listed as not paired. */
  runPeer(scenario: string): boolean;
}

/** Runs a scenario `runs` times (after one unmeasured warm-up if asked) and summarises the medians. */
export async function measure(scenario: string, detail: string, options: MeasureOptions, once: () => Promise<Run>): Promise<Result> {
  if (options.warmUp) await once();
  const runs: Run[] = [];
  for (let i = 0; i < options.runs; i++) runs.push(await once());
  const result = summarise(scenario, detail, options, runs);
  process.stdout.write(`  ${scenario}: median ${result.medianWallS.toFixed(2)} s, peak RSS ${result.medianPeakRssMb === null ? 'n/a' : `${result.medianPeakRssMb.toFixed(0)} MB`} (${runs.length} runs)\n`);
  return result;
}

export function summarise(scenario: string, detail: string, options: MeasureOptions, runs: readonly Run[]): Result {
  const wall = median(runs.map((r) => r.wallMs)) / 1000;
  const rss = runs.every((r) => r.peakRssMb !== null) ? median(runs.map((r) => r.peakRssMb!)) : null;
  return {
    scenario,
    detail,
    runs: runs.length,
    medianWallS: round(wall, 3),
    minWallS: round(Math.min(...runs.map((r) => r.wallMs)) / 1000, 3),
    rows: options.rows ?? null,
    rowsPerS: options.rows ? Math.round(options.rows / wall) : null,
    mbPerS: options.megabytes ? round(options.megabytes / wall, 2) : null,
    mbOf: options.megabytes ? (options.mbOf ?? 'input') : null,
    medianPeakRssMb: rss === null ? null : round(rss, 1),
    ...(options.note ? { note: options.note } : {}),
  };
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A plain-text table, also valid Markdown. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(headers), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}
