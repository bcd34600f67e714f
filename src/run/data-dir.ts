import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, DataError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import { checkRecordedFile, resolveInside, type RecordField } from '../core/recorded-file.js';
import type { InputFile } from '../load/input-files.js';
import type { FileRecord } from './run-manifest.js';
import { isIdentifier } from '../core/names.js';

/**
 * What the data directory remembers between commands, so `etl transform` and `etl load` can follow
 * `etl extract` with no arguments: the raw layer's manifests say what was extracted, and
 * <data-dir>/state/last-transform.json says what the last transform wrote.
 */
export interface ExtractedDataset {
  source: string;
  dataset: string;
}

export interface TransformRecord {
  source: string;
  dataset: string;
  /** Absolute path of the file written, or of the partitioned folder. */
  output: string;
  /** Every file written, with the bytes `etl load` checks before it uploads one. */
  files: FileRecord[];
  /** A file (by its name below a partitioned folder) uploaded after every other: the partition manifest. */
  last?: string;
  written_at: string;
}

export function stateDir(dataDir: string): string {
  return path.join(dataDir, 'state');
}

/** Every <source>/<dataset> under <data-dir>/raw that has a manifest, in name order. */
export async function listExtractedDatasets(dataDir: string): Promise<ExtractedDataset[]> {
  const raw = path.join(dataDir, 'raw');
  const found: ExtractedDataset[] = [];
  for (const source of await readdirOrEmpty(raw)) {
    for (const dataset of await readdirOrEmpty(path.join(raw, source))) {
      const manifest = await readFile(path.join(raw, source, dataset, 'manifest.json')).catch(() => null);
      if (manifest) found.push({ source, dataset });
    }
  }
  return found;
}

/** The one dataset the data dir holds extracted; a usage error naming them when there are none or several. */
export async function onlyExtractedDataset(dataDir: string, source?: string): Promise<ExtractedDataset> {
  const all = (await listExtractedDatasets(dataDir)).filter((d) => source === undefined || d.source === source);
  if (all.length === 1) return all[0]!;
  if (all.length === 0) {
    throw new ConfigError(`nothing extracted in ${path.join(dataDir, 'raw')}`, { hint: 'run `etl extract <source>` first (same --data-dir), or name the source and pass --input' });
  }
  throw new ConfigError(`${dataDir} holds several extracted datasets: ${all.map((d) => `${d.source} ${d.dataset}`).join(', ')}`, {
    hint: `name one, e.g. \`etl transform ${all[0]!.source} ${all[0]!.dataset}\``,
  });
}

const TRANSFORM_RECORD = 'last-transform.json';

export async function recordTransform(dataDir: string, record: TransformRecord): Promise<void> {
  await writeFileAtomic(path.join(stateDir(dataDir), TRANSFORM_RECORD), JSON.stringify(record, null, 2) + '\n');
}

/**
 * The files the last transform wrote, for `etl load` with no paths, each checked before anything is sent:
 * the record is a file under the data dir, so it is not trusted. Its output must resolve (symlinks
 * included) inside the data dir, each file inside that output, a regular file with the recorded size and
 * sha256; the object names come from where the files lie, not from the record.
 */
export async function recordedUploads(dataDir: string): Promise<{ files: InputFile[]; last?: string }> {
  const file = path.join(stateDir(dataDir), TRANSFORM_RECORD);
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) throw new ConfigError(`no files given and no transform recorded in ${dataDir}`, { hint: 'give files or directories to upload, or run `etl transform` first (same --data-dir)' });
  const hint = 'run `etl transform` again (same --data-dir), or name the files to upload: etl load <file>… --bucket …';
  let record: Partial<TransformRecord>;
  try {
    record = JSON.parse(text) as Partial<TransformRecord>;
  } catch {
    throw new DataError(`${file} is damaged: not JSON`, { hint });
  }
  if (typeof record !== 'object' || record === null || typeof record.output !== 'string' || !Array.isArray(record.files) || record.files.length === 0) {
    throw new DataError(`${file}: expected an output and a files list (it was written by an older etl, or damaged)`, { hint });
  }
  const where = (field: string, value: unknown): RecordField => ({ record: file, field, value: String(value), hint });
  const output = await resolveInside(dataDir, path.resolve(record.output), where('output', record.output));
  const isFolder = (await stat(output)).isDirectory();
  const files: InputFile[] = [];
  for (const [index, entry] of record.files.entries()) {
    const at = where(`files[${index}].path`, entry?.path);
    if (typeof entry?.path !== 'string') throw new DataError(`${file}: files[${index}].path is not a path`, { hint });
    const real = isFolder ? await resolveInside(output, path.resolve(entry.path), at) : await resolveInside(path.dirname(output), path.resolve(entry.path), at);
    if (!isFolder && real !== output) throw new DataError(`${file}: files[${index}].path ${JSON.stringify(entry.path)} is not the output the record names`, { hint });
    await checkRecordedFile(real, entry, at);
    files.push({ path: real, name: isFolder ? path.relative(output, real).split(path.sep).join('/') : path.basename(real), sha256: entry.sha256 });
  }
  return { files, ...(typeof record.last === 'string' ? { last: record.last } : {}) };
}

/** Folders whose names etl could have made (identifiers); anything else under raw/ is not a dataset. */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && isIdentifier(e.name)).map((e) => e.name).sort();
}
