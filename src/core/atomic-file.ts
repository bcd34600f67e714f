import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
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

/**
 * A private scratch directory beside `destination` (e.g. for a scratch database), removed with `release`
 * or on a signal. A directory, not loose files: a native thread that writes after the removal then fails
 * instead of leaving a file behind.
 */
export async function createScratchDir(destination: string): Promise<{ dir: string; release: () => Promise<void> }> {
  await mkdir(path.dirname(destination), { recursive: true });
  const dir = await mkdtemp(path.join(path.dirname(destination), `${TEMP_PREFIX}scratch-`));
  liveTempFiles.add(dir);
  return {
    dir,
    release: async () => {
      liveTempFiles.delete(dir);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
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
  for (const temp of liveTempFiles) rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
  liveTempFiles.clear();
}
