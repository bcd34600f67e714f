import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, isTempFile } from '../core/atomic-file.js';
import { ConfigError, DataError, errorMessage } from '../core/errors.js';

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

/**
 * The Delta `txn` version of a run: its start in milliseconds, times 1000, plus three digits of the run id's random
 * suffix. A retried commit of the same run carries the same version (and is recognised as done), while two runs of
 * one pipeline started in the same millisecond (two machines, or two processes at once) do not: with the start time
 * alone the second would be taken for the first and silently not committed. Later runs still get larger versions.
 */
export function deltaTxnVersion(manifest: Pick<RunManifest, 'run_id' | 'started_at'>): number {
  const suffix = /-([0-9a-f]{4})$/.exec(manifest.run_id)?.[1];
  return Date.parse(manifest.started_at) * 1000 + (suffix === undefined ? 0 : Number.parseInt(suffix, 16) % 1000);
}

/** Sorts by time, to the millisecond: 20261201T061500123Z-ons-monthly-deaths-3f9a. */
export function newRunId(pipelineSlug: string, now: Date): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${pipelineSlug}-${randomBytes(2).toString('hex')}`;
}

/** Written whole at the start and at each step's end, so a killed run leaves a manifest that says where it stopped. */
export async function writeRunManifest(dataDir: string, manifest: RunManifest): Promise<void> {
  await writeFileAtomic(path.join(runsDir(dataDir), `${manifest.run_id}.json`), JSON.stringify(manifest, null, 2) + '\n');
}

export interface RunList {
  /** The newest runs first. */
  runs: RunManifest[];
  /** Files in runs/ that are not a manifest etl wrote (cut short, hand-edited, another tool's), each with why. */
  damaged: Array<{ file: string; problem: string }>;
}

/** The newest runs first; with `pipelines`, only the runs of those pipelines (a damaged file, whose pipeline is unknown, is reported whatever the filter). */
export async function listRuns(dataDir: string, limit: number, pipelines?: ReadonlySet<string>): Promise<RunList> {
  const names = (await readdir(runsDir(dataDir)).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !isTempFile(n)).sort().reverse();
  const list: RunList = { runs: [], damaged: [] };
  for (const name of names) {
    if (list.runs.length >= limit) break;
    const file = path.join(runsDir(dataDir), name);
    try {
      const manifest = parseRunManifest(await readFile(file, 'utf8'), file);
      if (!pipelines || pipelines.has(manifest.pipeline)) list.runs.push(manifest);
    } catch (error) {
      list.damaged.push({ file, problem: error instanceof DataError ? error.message : `${file} cannot be read (${errorMessage(error)})` });
    }
  }
  return list;
}

export async function readRun(dataDir: string, runId: string): Promise<RunManifest> {
  if (!/^[\w.-]+$/.test(runId)) throw new ConfigError(`${JSON.stringify(runId)} is not a run id`, { hint: 'run `etl runs` to list them' });
  const file = path.join(runsDir(dataDir), `${runId}.json`);
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) throw new ConfigError(`no run ${runId} in ${runsDir(dataDir)}`, { hint: 'list them with `etl runs` and the same --data-dir' });
  return parseRunManifest(text, file);
}

const RUN_STATUSES = new Set(['running', 'succeeded', 'failed', 'interrupted']);

/**
 * A run manifest is a record etl wrote, but the file may be cut short, hand-edited or another tool's: its
 * shape is checked before anything reads a field, and a bad one is a data error naming the file and the field.
 */
export function parseRunManifest(text: string, file: string): RunManifest {
  const refuse = (problem: string): never => {
    throw new DataError(`${file} is not a run manifest etl wrote: ${problem}`, { hint: 'move it out of the runs folder; etl writes a new manifest for each run' });
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return refuse(`not JSON (${errorMessage(error)})`);
  }
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(data)) return refuse(`expected an object, got ${Array.isArray(data) ? 'an array' : JSON.stringify(data)}`);
  for (const field of ['run_id', 'pipeline', 'started_at'] as const) if (typeof data[field] !== 'string') refuse(`${field} is not a string`);
  if (!RUN_STATUSES.has(data.status as string)) refuse(`status is not one of ${[...RUN_STATUSES].join(', ')}`);
  if (data.ended_at !== null && typeof data.ended_at !== 'string') refuse('ended_at is neither a time nor null');
  if (!Array.isArray(data.steps)) return refuse('steps is not a list');
  data.steps.forEach((step, i) => {
    if (!isObject(step) || typeof step.name !== 'string' || typeof step.status !== 'string') refuse(`steps[${i}] has no name and status`);
  });
  return data as unknown as RunManifest;
}
