import { crypto } from './lazy-crypto.js';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { LoadError, diskFullError, errorMessage, isDiskFull } from './errors.js';

/**
 * Every output is written to a temp file beside its destination and renamed into place, so a failed or
 * killed run leaves the previous good file and never a partial one. Temp names start with TEMP_PREFIX and
 * the writer's PID (`.etl-tmp-<pid>-<random>-<name>`), so a leftover from a SIGKILL is recognisable, never
 * mistaken for output, and swept by the next run once that PID is gone.
 */
export const TEMP_PREFIX = '.etl-tmp-';
const TEMP_PID = /^\.etl-tmp-(\d+)-/;

const liveTempFiles = new Set<string>();

export function tempPathFor(destination: string): string {
  const dir = path.dirname(destination);
  return path.join(dir, `${TEMP_PREFIX}${process.pid}-${crypto().randomBytes(6).toString('hex')}-${path.basename(destination)}`);
}

export function isTempFile(fileName: string): boolean {
  return path.basename(fileName).startsWith(TEMP_PREFIX);
}

/** Scratch files that are not renamed into place (e.g. a scratch database) are removed on a signal too. */
export function trackTempFile(file: string): () => void {
  liveTempFiles.add(file);
  return () => liveTempFiles.delete(file);
}

/**
 * Runs `write` against a temp path and renames it over `destination` only if `write` succeeds (and
 * `keep` accepts its result: a download answered 304 has nothing to put in place).
 */
export async function withAtomicFile<T>(destination: string, write: (tempPath: string) => Promise<T>, options: { keep?: (result: T) => boolean } = {}): Promise<T> {
  await mkdir(path.dirname(destination), { recursive: true });
  const temp = tempPathFor(destination);
  liveTempFiles.add(temp);
  try {
    const result = await write(temp);
    if (options.keep?.(result) ?? true) await rename(temp, destination);
    return result;
  } finally {
    liveTempFiles.delete(temp);
    await rm(temp, { force: true });
  }
}

export async function writeFileAtomic(destination: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(destination, (temp) => writeFile(temp, data));
}

/** Called on SIGINT/SIGTERM: removes temp files of writes still in flight. */
export function removeLiveTempFiles(): void {
  for (const temp of liveTempFiles) rmSync(temp, { force: true });
  liveTempFiles.clear();
}

/**
 * Removes temp files that a dead run (SIGKILL, power loss) left in `dir` (and its subfolders with
 * `recursive`, for a folder etl owns such as the raw layer): those whose
 * PID is no longer running, or is this process's but not one of its live writes. A live run's files stay.
 * Returns the paths removed.
 */
export async function sweepDeadTempFiles(dir: string, options: { recursive?: boolean } = {}): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: options.recursive ?? false }).catch(() => []);
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !isTempFile(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (writerIsAlive(entry.name, file)) continue;
    await rm(file, { force: true });
    removed.push(file);
  }
  return removed;
}

function writerIsAlive(fileName: string, file: string): boolean {
  const pid = Number(TEMP_PID.exec(fileName)?.[1] ?? NaN);
  if (!Number.isInteger(pid) || pid <= 0) return false; // no PID: an older etl's leftover
  if (pid === process.pid) return liveTempFiles.has(file) || [...liveTempFiles].some((live) => file.startsWith(live));
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}

const FILESYSTEM_SYSCALLS = new Set(['open', 'write', 'close', 'rename', 'mkdir', 'fsync', 'unlink', 'copyfile', 'ftruncate']);

/**
 * A failed local write is the user's problem to fix (space, permissions), not a bug or a network error:
 * a LoadError naming the path, "no space left" for ENOSPC/EDQUOT. Anything else is returned as it is.
 */
export function describeWriteError(error: unknown, target: string): unknown {
  const errno = error as NodeJS.ErrnoException;
  if (!(error instanceof Error) || !errno.code || !FILESYSTEM_SYSCALLS.has(errno.syscall ?? '')) return error;
  if (isDiskFull(error)) return diskFullError(target, error);
  return new LoadError(`cannot write ${target}: ${errorMessage(error)}`, { cause: error, hint: 'check the directory exists and is writable' });
}
