import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Every output is written to a temp file beside its destination and renamed into place, so a failed or
 * killed run leaves the previous good file and never a partial one. Temp names start with TEMP_PREFIX so
 * a leftover from a SIGKILL is recognisable and never mistaken for output.
 */
export const TEMP_PREFIX = '.etl-tmp-';

const liveTempFiles = new Set<string>();

export function tempPathFor(destination: string): string {
  const dir = path.dirname(destination);
  return path.join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${path.basename(destination)}`);
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
