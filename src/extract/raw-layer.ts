import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/**
 * The raw layer: files exactly as the source served them, under <dataDir>/raw/<source>/<dataset>/<edition>/,
 * with a manifest saying where each came from and what it should hash to.
 */
export interface ManifestEntry {
  url: string;
  edition: number;
  /** Relative to the dataset's raw folder, e.g. `2019/publishedoutput2019.xls`. */
  path: string;
  bytes: number;
  sha256: string;
  etag: string | null;
  last_modified: string | null;
  content_type: string | null;
  fetched_at: string;
}

export interface Manifest {
  source: string;
  dataset: string;
  page_url: string;
  updated_at: string;
  files: ManifestEntry[];
}

export function rawDatasetDir(dataDir: string, source: string, dataset: string): string {
  return path.join(dataDir, 'raw', source, dataset);
}

export function manifestPath(rawDir: string): string {
  return path.join(rawDir, 'manifest.json');
}

/** The manifest, or null when there is none yet. A damaged one is reported and treated as absent. */
export async function readManifest(rawDir: string, log: Logger): Promise<Manifest | null> {
  const file = manifestPath(rawDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const manifest = JSON.parse(text) as Manifest;
    if (!Array.isArray(manifest.files)) throw new Error('no files list');
    return manifest;
  } catch (error) {
    log.warn(`${file} is damaged (${errorMessage(error)}); every file will be fetched again`);
    return null;
  }
}

export async function writeManifest(rawDir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(manifestPath(rawDir), JSON.stringify(manifest, null, 2) + '\n');
}

/** True when the file on disk is the one the manifest describes (same size and sha256). */
export async function fileMatches(file: string, expected: { bytes: number; sha256: string }): Promise<boolean> {
  try {
    const info = await stat(file);
    if (info.size !== expected.bytes) return false;
    return (await sha256File(file)) === expected.sha256;
  } catch {
    return false;
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
