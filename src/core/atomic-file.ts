import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Every output is written to a temp file beside its destination and renamed into place, so a failed or
 * killed run leaves the previous good file and never a partial one. Temp names start with TEMP_PREFIX so
 * a leftover from a SIGKILL is recognisable and never mistaken for output, followed by the writer's PID so a
 * later run can tell a dead run's leftovers from a live run's files.
 */
export const TEMP_PREFIX = '.etl-tmp-';

const liveTempFiles = new Set<string>();

export function tempPathFor(destination: string): string {
  const dir = path.dirname(destination);
  return path.join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}-${path.basename(destination)}`);
}

/**
 * Removes temp files in `dir` (not below) left by etl processes that no longer exist (SIGKILL, a reboot).
 * Files of a live process, and temp names without a PID, are left alone. Returns the paths removed.
 */
export async function removeDeadTempFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = isTempFile(name) ? Number(/^(\d+)-/.exec(name.slice(TEMP_PREFIX.length))?.[1]) : NaN;
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await rm(path.join(dir, name), { force: true });
    removed.push(path.join(dir, name));
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isTempFile(fileName: string): boolean {
  return path.basename(fileName).startsWith(TEMP_PREFIX);
}

/** Scratch files that are not renamed into place (e.g. a scratch database) are removed on a signal too. */
export function trackTempFile(file: string): () => void {
  liveTempFiles.add(file);
  return () => liveTempFiles.delete(file);
}

/** Runs `write` against a temp path and renames it over `destination` only if `write` succeeds. */
export async function withAtomicFile<T>(destination: string, write: (tempPath: string) => Promise<T>): Promise<T> {
  await mkdir(path.dirname(destination), { recursive: true });
  const temp = tempPathFor(destination);
  liveTempFiles.add(temp);
  try {
    const result = await write(temp);
    await rename(temp, destination);
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
