import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { isTempFile } from '../core/atomic-file.js';
import type { LocalFile } from '../core/sink.js';

export interface InputFile {
  path: string;
  /** The file name, or for a file found in a directory input its path below that directory, with `/`. */
  name: string;
  /** For a file a transform recorded: the sha256 it must still hash to, or it is not uploaded. */
  sha256?: string;
}

/**
 * Expands the paths given on the command line: a file stands for itself, a directory for every file below
 * it. Dot files and etl's own temp files are left out: they are never data.
 */
export async function listInputFiles(inputs: readonly string[]): Promise<InputFile[]> {
  const files: InputFile[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => {
      throw new ConfigError(`${input} does not exist`, { hint: 'give files or directories to upload' });
    });
    if (info.isFile()) {
      files.push({ path: input, name: path.basename(input) });
      continue;
    }
    const below = await readdir(input, { recursive: true, withFileTypes: true });
    for (const entry of below) {
      const full = path.join(entry.parentPath, entry.name);
      const name = path.relative(input, full).split(path.sep).join('/');
      if (name.split('/').some((part) => part.startsWith('.')) || isTempFile(entry.name)) continue;
      if (entry.isFile() || (entry.isSymbolicLink() && (await stat(full)).isFile())) files.push({ path: full, name });
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** One read gives both digests: sha256 for etl's metadata, md5 for comparing with what stores compute. */
export async function hashLocalFile(filePath: string): Promise<LocalFile> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of createReadStream(filePath)) {
    sha256.update(chunk as Buffer);
    md5.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { path: filePath, size, sha256: sha256.digest('hex'), md5: md5.digest('hex') };
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.parquet': 'application/vnd.apache.parquet',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.jsonl': 'application/x-ndjson',
  '.ndjson': 'application/x-ndjson',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.html': 'text/html',
  '.xls': 'application/vnd.ms-excel',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.gz': 'application/gzip',
  '.zip': 'application/zip',
};

export function contentTypeOf(fileName: string): string {
  return CONTENT_TYPES[path.extname(fileName).toLowerCase()] ?? 'application/octet-stream';
}
