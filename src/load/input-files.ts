import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, stat } from 'node:fs/promises';
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
    const kind = await fileKind(input);
    if (kind === 'missing') throw new ConfigError(`${input} does not exist`, { hint: 'give files or directories to upload' });
    if (kind === 'file') {
      files.push({ path: input, name: path.basename(input) });
      continue;
    }
    if (kind !== 'directory') throw notUploadable(input, kind);
    const below = await readdir(input, { recursive: true, withFileTypes: true });
    for (const entry of below) {
      const full = path.join(entry.parentPath, entry.name);
      const name = path.relative(input, full).split(path.sep).join('/');
      if (name.split('/').some((part) => part.startsWith('.')) || isTempFile(entry.name)) continue;
      if (entry.isFile()) files.push({ path: full, name });
      else if (entry.isSymbolicLink()) {
        const target = await fileKind(full);
        if (target === 'file') files.push({ path: full, name });
        // A link to a directory is not walked (no loops); a link to nothing is a mistake worth naming.
        else if (target !== 'directory') throw notUploadable(full, target);
      }
      // A FIFO, socket or device inside a directory is not data: left out, as dot files are.
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

type FileKind = 'file' | 'directory' | 'missing' | 'dangling symlink' | 'FIFO' | 'socket' | 'device' | 'special file';

/**
 * What a path is, from its metadata alone (lstat, then stat for a symlink): nothing is opened, so a FIFO
 * cannot block and /dev/zero cannot be read forever. Only regular files are uploaded.
 */
async function fileKind(file: string): Promise<FileKind> {
  const link = await lstat(file).catch(() => null);
  if (!link) return 'missing';
  const info = link.isSymbolicLink() ? await stat(file).catch(() => null) : link;
  if (!info) return 'dangling symlink';
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'directory';
  if (info.isFIFO()) return 'FIFO';
  if (info.isSocket()) return 'socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'device';
  return 'special file';
}

function notUploadable(file: string, kind: FileKind): ConfigError {
  const what = kind === 'dangling symlink' ? 'is a symlink to nothing' : `is a ${kind}, not a regular file`;
  return new ConfigError(`${file} ${what}: only regular files are uploaded`, { hint: 'give files or directories to upload' });
}

/** One read gives both digests: sha256 for etl's metadata, md5 for comparing with what stores compute. */
export async function hashLocalFile(filePath: string): Promise<LocalFile> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  // Non-blocking, and checked again on the open file: a FIFO or device put in its place since it was listed is refused, not read.
  const handle = await open(filePath, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    if (!(await handle.stat()).isFile()) throw new Error('not a regular file');
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      sha256.update(chunk as Buffer);
      md5.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } finally {
    await handle.close();
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
