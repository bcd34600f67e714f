import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LOG_DIR, commitVersionOf } from '../delta/actions.js';
import { isTempFile } from '../core/atomic-file.js';
import { isIdentifier } from '../core/names.js';
import { INSTANCE_PATTERN } from '../core/source.js';
import type { Column } from '../core/table.js';
import { listRuns, type RunManifest } from '../run/run-manifest.js';
import { sources } from '../sources/index.js';

/**
 * Where a served dataset lives in the processed layer. `kind` says how its files are found at query time
 * (pinned-files.ts): a plain parquet file, a Hive-partitioned folder whose `_manifest.json` lists its files, or
 * a Delta table (a folder holding `_delta_log/`) whose files are those its latest version names.
 */
export interface DatasetLocation {
  source: string;
  name: string;
  kind: 'file' | 'partitioned' | 'delta';
  /** Absolute path of the .parquet file or of the folder. */
  path: string;
}

/**
 * Every dataset under <data-dir>/processed/<source>/: `<name>.parquet` files and folders holding a partition
 * manifest. Names are those etl itself could have written (identifiers; a Postgres table's `schema.table`), so
 * a request's names are looked up among these and never joined into a path.
 */
export async function findDatasets(dataDir: string): Promise<DatasetLocation[]> {
  const processed = path.resolve(dataDir, 'processed');
  const found: DatasetLocation[] = [];
  for (const source of await entries(processed)) {
    if (!source.isDirectory() || !isIdentifier(source.name)) continue;
    const sourceDir = path.join(processed, source.name);
    for (const entry of await entries(sourceDir)) {
      if (isTempFile(entry.name)) continue;
      const full = path.join(sourceDir, entry.name);
      if (entry.isFile() && entry.name.endsWith('.parquet')) {
        const name = entry.name.slice(0, -'.parquet'.length);
        if (isDatasetName(name)) found.push({ source: source.name, name, kind: 'file', path: full });
      } else if (entry.isDirectory() && isDatasetName(entry.name) && (await isDeltaTable(full))) {
        found.push({ source: source.name, name: entry.name, kind: 'delta', path: full });
      } else if (entry.isDirectory() && isDatasetName(entry.name) && (await partitionManifests(full)).length > 0) {
        found.push({ source: source.name, name: entry.name, kind: 'partitioned', path: full });
      }
    }
  }
  return found.sort((a, b) => `${a.source}/${a.name}`.localeCompare(`${b.source}/${b.name}`));
}

function isDatasetName(name: string): boolean {
  return isIdentifier(name) || INSTANCE_PATTERN.test(name);
}

/** A folder whose `_delta_log/` holds a commit or a checkpoint: a log still empty is a table not yet created. */
async function isDeltaTable(dir: string): Promise<boolean> {
  return (await entries(path.join(dir, LOG_DIR))).some((e) => e.isFile() && (commitVersionOf(e.name) !== undefined || e.name.includes('.checkpoint.')));
}

/** `_manifest.json`, or the shards' `_manifest.shard-<i>-of-<n>.json` (each lists its own partitions). */
export async function partitionManifests(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((e) => e.isFile() && /^_manifest(\.shard-\d+-of-\d+)?\.json$/.test(e.name)).map((e) => path.join(dir, e.name)).sort();
}

async function entries(dir: string): Promise<import('node:fs').Dirent[]> {
  return (await readdir(dir, { withFileTypes: true }).catch(() => [])).sort((a, b) => a.name.localeCompare(b.name));
}

/** The declared columns of a source's dataset (`etl datasets`), by name: where descriptions come from. */
export function declaredColumns(source: string, dataset: string): ReadonlyMap<string, Column> {
  const declared = sources.find((s) => s.name === source)?.datasets.find((d) => d.name === dataset)?.columns ?? [];
  return new Map(declared.map((column) => [column.name, column]));
}

/** What the run manifests say about the newest run that wrote this dataset. */
export interface LastRun {
  run_id: string;
  pipeline: string;
  status: RunManifest['status'];
  started_at: string;
  ended_at: string | null;
}

/** Looked up among this many newest runs: a dataset no recent run wrote shows no last run. */
const RUNS_SEARCHED = 200;

/** The newest run whose transform step wrote a file of this dataset (or was cached on one). */
export async function lastRunOf(dataDir: string, location: DatasetLocation): Promise<LastRun | null> {
  const { runs } = await listRuns(dataDir, RUNS_SEARCHED);
  // A Delta run records the table's folder itself as its output.
  const inside = (file: string): boolean => path.resolve(file) === location.path || (location.kind !== 'file' && path.resolve(file).startsWith(location.path + path.sep));
  const run = runs.find((r) => r.steps.some((step) => step.name === 'transform' && step.outputs.some((output) => inside(output.path))));
  return run ? { run_id: run.run_id, pipeline: run.pipeline, status: run.status, started_at: run.started_at, ended_at: run.ended_at } : null;
}

/** When the data was last written: the file's mtime, the newest partition manifest's, or the newest Delta log file's. */
export async function writtenAt(location: DatasetLocation): Promise<Date> {
  if (location.kind === 'file') return (await stat(location.path)).mtime;
  const logDir = path.join(location.path, LOG_DIR);
  const written = location.kind === 'delta' ? (await entries(logDir)).filter((e) => e.isFile()).map((e) => path.join(logDir, e.name)) : await partitionManifests(location.path);
  const times = await Promise.all(written.map(async (file) => (await stat(file).catch(() => ({ mtime: new Date(0) }))).mtime.getTime()));
  return new Date(Math.max(...times));
}

/** The partition manifest's fields the server reads; written by partition-parquet.ts. */
export interface PartitionManifestFile {
  partition_by: string;
  files: Array<{ path: string; rows: number; bytes: number }>;
  written_at: string;
}

export async function readPartitionManifest(file: string): Promise<PartitionManifestFile> {
  return JSON.parse(await readFile(file, 'utf8')) as PartitionManifestFile;
}
