import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, isTempFile } from '../core/atomic-file.js';
import { ConfigError } from '../core/errors.js';

/** A file a step read or wrote, as the run manifest records it. */
export interface FileRecord {
  path: string;
  sha256: string;
  bytes: number;
  rows?: number;
}

export type StepName = 'extract' | 'transform' | 'load';

export interface StepRecord {
  name: StepName;
  status: 'running' | 'succeeded' | 'failed' | 'cached' | 'skipped';
  started_at: string;
  duration_s: number;
  attempts: number;
  /** "cached: …", "ran: <why>", "--no-cache", or why the step was not needed. */
  cache: string;
  inputs: FileRecord[];
  outputs: FileRecord[];
  summary?: Record<string, unknown>;
  error?: string;
}

export interface RunManifest {
  run_id: string;
  pipeline: string;
  params: Record<string, unknown>;
  etl_version: string;
  pid: number;
  /** interrupted: the process died part-way (found by the next run, which took over its lock). */
  status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  started_at: string;
  ended_at: string | null;
  steps: StepRecord[];
  error?: { step: StepName | null; message: string; exit_code: number };
}

export function runsDir(dataDir: string): string {
  return path.join(dataDir, 'runs');
}

/** Sorts by time, to the millisecond: 20261201T061500123Z-ons-monthly-deaths-3f9a. */
export function newRunId(pipelineSlug: string, now: Date): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${pipelineSlug}-${randomBytes(2).toString('hex')}`;
}

/** Written whole at the start and at each step's end, so a killed run leaves a manifest that says where it stopped. */
export async function writeRunManifest(dataDir: string, manifest: RunManifest): Promise<void> {
  await writeFileAtomic(path.join(runsDir(dataDir), `${manifest.run_id}.json`), JSON.stringify(manifest, null, 2) + '\n');
}

/** The newest runs first; with `pipelines`, only the runs of those pipelines. */
export async function listRuns(dataDir: string, limit: number, pipelines?: ReadonlySet<string>): Promise<RunManifest[]> {
  const names = (await readdir(runsDir(dataDir)).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !isTempFile(n)).sort().reverse();
  const runs: RunManifest[] = [];
  for (const name of names) {
    if (runs.length >= limit) break;
    const manifest = await readFile(path.join(runsDir(dataDir), name), 'utf8').then((text) => JSON.parse(text) as RunManifest).catch(() => null);
    if (manifest && (!pipelines || pipelines.has(manifest.pipeline))) runs.push(manifest);
  }
  return runs;
}

export async function readRun(dataDir: string, runId: string): Promise<RunManifest> {
  if (!/^[\w.-]+$/.test(runId)) throw new ConfigError(`${JSON.stringify(runId)} is not a run id`, { hint: 'run `etl runs` to list them' });
  const text = await readFile(path.join(runsDir(dataDir), `${runId}.json`), 'utf8').catch(() => null);
  if (text === null) throw new ConfigError(`no run ${runId} in ${runsDir(dataDir)}`, { hint: 'list them with `etl runs` and the same --data-dir' });
  return JSON.parse(text) as RunManifest;
}
