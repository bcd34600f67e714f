import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic-file.js';
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
  /** Absolute paths of the files written. */
  outputs: string[];
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

export async function recordTransform(dataDir: string, record: TransformRecord): Promise<void> {
  await writeFileAtomic(path.join(stateDir(dataDir), 'last-transform.json'), JSON.stringify(record, null, 2) + '\n');
}

export async function lastTransform(dataDir: string): Promise<TransformRecord> {
  const file = path.join(stateDir(dataDir), 'last-transform.json');
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) throw new ConfigError(`no files given and no transform recorded in ${dataDir}`, { hint: 'give files or directories to upload, or run `etl transform` first (same --data-dir)' });
  try {
    return JSON.parse(text) as TransformRecord;
  } catch {
    throw new ConfigError(`${file} is damaged`, { hint: 'give the files to upload, or run `etl transform` again' });
  }
}

/** Folders whose names etl could have made (identifiers); anything else under raw/ is not a dataset. */
async function readdirOrEmpty(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && isIdentifier(e.name)).map((e) => e.name).sort();
}
