import { crypto } from './lazy-crypto.js';
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DataError, errorMessage, type ErrorDetails } from './errors.js';

/**
 * Files under the data dir (raw manifests, state/last-transform.json, the pipeline cache) are records etl
 * wrote, but they are not trusted: one may be hand-edited, corrupt or planted. A path read from one is used
 * only once it resolves, symlinks included, to a place inside the folder the record speaks for, and a file
 * only when it is a regular file holding exactly the bytes (size and sha256) its record holds. Anything
 * else is refused with one line naming the record and the field (exit 4, a data error: the data dir does
 * not hold what it says; running the step that writes the record again, or naming files on the command
 * line, is the way out).
 */
export interface RecordField {
  /** The record: the file the path was read from. */
  record: string;
  /** The field inside it, e.g. `files[2].path`. */
  field: string;
  /** What the field holds, as written there (shown in the refusal); the path given when absent. */
  value?: string;
  /** What to do about it. */
  hint: string;
}

export interface RecordedBytes {
  bytes: number;
  sha256: string;
}

/** A path a record names that points outside its folder, or at something that is not a regular file: never read, never deleted. */
export class UntrustedPathError extends DataError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.name = 'DataError'; // reported as the data error it is
  }
}

/** True when `file` lies strictly below `root` (both already resolved). */
export function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/** The real path of `candidate` (every symlink resolved), refused unless it lies inside `root` (also resolved). */
export async function resolveInside(root: string, candidate: string, where: RecordField): Promise<string> {
  const realRoot = await realpath(root).catch(() => path.resolve(root));
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw refusal(where, candidate, `cannot be resolved (${errorMessage(error)})`, UntrustedPathError);
    // Missing: judged by where it would be, so a missing file outside is still called outside.
    if (!isInside(path.resolve(root), path.resolve(candidate))) throw refusal(where, candidate, `lies outside ${root}`, UntrustedPathError);
    throw refusal(where, candidate, 'does not exist', DataError);
  }
  if (!isInside(realRoot, real)) {
    const via = real === path.resolve(candidate) ? '' : ` (it resolves to ${show(real)})`;
    throw refusal(where, candidate, `lies outside ${root}${via}`, UntrustedPathError);
  }
  return real;
}

/** The file's bytes, read once and refused unless they are the recorded ones; `file` is a path resolveInside returned. */
export async function readRecordedFile(file: string, expected: RecordedBytes, where: RecordField): Promise<Buffer> {
  return withRegularFile(file, expected, where, async (handle) => {
    const bytes = await handle.readFile();
    matchOrRefuse(file, bytes.length, crypto().createHash('sha256').update(bytes).digest('hex'), expected, where);
    return bytes;
  });
}

/** Refuses the file unless it holds the recorded bytes (hashed in one streamed read; for files too big to hold). */
export async function checkRecordedFile(file: string, expected: RecordedBytes, where: RecordField): Promise<void> {
  await withRegularFile(file, expected, where, async (handle) => {
    const hash = crypto().createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    matchOrRefuse(file, size, hash.digest('hex'), expected, where);
  });
}

/**
 * Opens without following a last symlink and without blocking (a FIFO put in a file's place would
 * otherwise wait for a writer forever), then refuses anything but a regular file of the recorded size.
 */
async function withRegularFile<T>(file: string, expected: RecordedBytes, where: RecordField, use: (handle: FileHandle) => Promise<T>): Promise<T> {
  checkRecordShape(expected, where);
  const flags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
  const handle = await open(file, flags).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    // A file deleted since it was recorded is ordinary (it is made again); one that cannot be opened otherwise is worth saying.
    throw refusal(where, file, `cannot be opened (${code ?? errorMessage(error)})`, code === 'ENOENT' ? DataError : UntrustedPathError);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw refusal(where, file, 'is not a regular file', UntrustedPathError);
    if (info.size !== expected.bytes) throw refusal(where, file, `is ${info.size} bytes, the record says ${expected.bytes}`, DataError);
    return await use(handle);
  } finally {
    await handle.close();
  }
}

function checkRecordShape(expected: RecordedBytes, where: RecordField): void {
  if (!Number.isSafeInteger(expected.bytes) || expected.bytes < 0 || typeof expected.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(expected.sha256)) {
    throw refusal(where, undefined, 'has no valid bytes and sha256 beside it', DataError);
  }
}

function matchOrRefuse(file: string, size: number, sha256: string, expected: RecordedBytes, where: RecordField): void {
  if (size !== expected.bytes || sha256 !== expected.sha256) {
    throw refusal(where, file, `does not hold the recorded bytes (sha256 ${sha256.slice(0, 12)}…, the record says ${expected.sha256.slice(0, 12)}…)`, DataError);
  }
}

/** `<record>: <field> "<value as recorded>" <problem>`, one line. */
function refusal(where: RecordField, file: string | undefined, problem: string, kind: typeof DataError): DataError {
  const value = where.value ?? file;
  return new kind(`${where.record}: ${where.field}${value === undefined ? '' : ` ${show(value)}`} ${problem}`, { hint: where.hint });
}

/** A path from a record, quoted and escaped: it may hold anything. */
function show(file: string): string {
  return JSON.stringify(file.length > 200 ? `${file.slice(0, 200)}…` : file);
}
