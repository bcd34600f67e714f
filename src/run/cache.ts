import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { DataError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import type { Logger } from '../core/log.js';
import { UntrustedPathError, checkRecordedFile, resolveInside } from '../core/recorded-file.js';
import { hashLocalFile } from '../load/input-files.js';
import { stateDir } from './data-dir.js';
import type { FileRecord } from './run-manifest.js';

/**
 * What a step's result depends on. Two equal fingerprints mean the step would produce the same output,
 * so a step whose fingerprint matches its last successful run (and whose outputs are still intact) is
 * skipped and reported as cached.
 */
export interface Fingerprint {
  /** Input file (or object) -> sha256. */
  inputs: Record<string, string>;
  /** The dataset declaration: "built-in" (it changes only with the etl version) or a declaration file's sha256. */
  declaration: string;
  params: Record<string, unknown>;
  etl_version: string;
}

interface CachedStep {
  fingerprint: Fingerprint;
  outputs: FileRecord[];
}

export interface CacheState {
  transform?: CachedStep;
  load?: CachedStep;
}

export function cacheFile(dataDir: string, pipelineSlug: string): string {
  return path.join(stateDir(dataDir), `${pipelineSlug}.cache.json`);
}

export async function readCacheState(dataDir: string, pipelineSlug: string): Promise<CacheState> {
  const text = await readFile(cacheFile(dataDir, pipelineSlug), 'utf8').catch(() => null);
  if (text === null) return {};
  try {
    return JSON.parse(text) as CacheState;
  } catch {
    // A damaged cache only costs a full run.
    return {};
  }
}

export async function writeCacheState(dataDir: string, pipelineSlug: string, state: CacheState): Promise<void> {
  await writeFileAtomic(cacheFile(dataDir, pipelineSlug), JSON.stringify(state, null, 2) + '\n');
}

/** Null when nothing changed; otherwise the first difference, in words, for the run manifest and `etl plan`. */
export function whatChanged(previous: Fingerprint | undefined, current: Fingerprint): string | null {
  if (!previous) return 'no earlier successful run';
  if (previous.etl_version !== current.etl_version) return `etl version ${previous.etl_version} -> ${current.etl_version}`;
  if (previous.declaration !== current.declaration) return 'dataset declaration changed';
  const change = changedParam(previous.params, current.params);
  if (change) return change;
  const changed = Object.keys(current.inputs).filter((file) => previous.inputs[file] !== current.inputs[file]);
  const removed = Object.keys(previous.inputs).filter((file) => !(file in current.inputs));
  if (changed.length > 0) return `${changed.length === 1 ? 'input' : `${changed.length} inputs`} changed: ${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ', …' : ''}`;
  if (removed.length > 0) return `input removed: ${removed[0]}`;
  return null;
}

/**
 * Which parameter changed, from what to what: `--from 2019 -> 2020` for a source's own flag (source_flags
 * holds them by attribute name), `parameter out a.parquet -> b.parquet` for the others. Values are redacted.
 */
function changedParam(before: Record<string, unknown>, after: Record<string, unknown>): string | null {
  const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!differs(before[key], after[key])) continue;
    const flags = (value: unknown): Record<string, unknown> => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
    if (key === 'source_flags') {
      const was = flags(before[key]);
      const now = flags(after[key]);
      const flag = [...new Set([...Object.keys(was), ...Object.keys(now)])].find((name) => differs(was[name], now[name]));
      if (flag) return redact(`--${flag.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)} ${showValue(was[flag])} -> ${showValue(now[flag])}`);
    }
    return redact(`parameter ${key} ${showValue(before[key])} -> ${showValue(after[key])}`);
  }
  return null;
}

/** A parameter's value in a reason: as typed where it is text, `(none)` where it was not given, cut short past 80 characters. */
function showValue(value: unknown): string {
  const text = value === undefined || value === null ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Why a cached transform's outputs cannot be reused, or null when they can. The cache is a file under the
 * data dir, so its paths are not trusted: each must be the output this run writes (`out`), or lie inside
 * it when partitioned (symlinks resolved), and still be a regular file with the bytes recorded. A file
 * replaced or deleted since means running again; a path elsewhere is also warned about, naming the record.
 */
export async function cachedOutputsProblem(outputs: readonly FileRecord[], out: string, partitioned: boolean, cacheRecord: string, log: Logger): Promise<string | null> {
  if (!Array.isArray(outputs) || outputs.length === 0) return 'the cache lists no output';
  for (const [index, output] of outputs.entries()) {
    const where = { record: cacheRecord, field: `transform.outputs[${index}].path`, value: String(output?.path), hint: 'the step runs again and rewrites the cache' };
    try {
      if (typeof output?.path !== 'string') throw new UntrustedPathError(`${cacheRecord}: ${where.field} is not a path`);
      if (!partitioned && path.resolve(output.path) !== out) throw new UntrustedPathError(`${cacheRecord}: ${where.field} ${JSON.stringify(output.path)} is not this run's output ${out}`);
      const file = partitioned ? await resolveInside(out, path.resolve(output.path), where) : out;
      await checkRecordedFile(file, output, where);
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      if (error instanceof UntrustedPathError) log.warn(`${error.message}; not trusted, the transform runs again`);
      return 'the output file was changed or removed since';
    }
  }
  return null;
}

export async function fileRecord(file: string, rows?: number): Promise<FileRecord> {
  const { sha256, size } = await hashLocalFile(file);
  return { path: file, sha256, bytes: size, ...(rows === undefined ? {} : { rows }) };
}
