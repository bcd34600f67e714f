import { randomUUID } from 'node:crypto';
import { copyFile, link, mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describeWriteError, writeFileAtomic } from '../core/atomic-file.js';
import { LoadError } from '../core/errors.js';

/** A file of the table as the store lists it: path relative to the table root (never URL-encoded). */
export interface StoredFile {
  path: string;
  size: number;
  /** Milliseconds since the epoch. */
  modified: number;
}

/**
 * What a Delta table needs from where it lives. The one operation that makes commits atomic is
 * createIfAbsent: a commit file is written only if no file of that name exists, decided by the store
 * itself, so of two writers racing for the same version exactly one wins.
 */
export interface LogStore {
  /** For messages: `./lake/deaths/`, `s3://bucket/prefix/`. */
  readonly location: string;
  read(relative: string): Promise<Buffer | null>;
  /** Every file under a folder of the table (recursively), paths relative to the table root. */
  list(folder: string): Promise<StoredFile[]>;
  /** Writes `bytes` only when nothing is at `relative`; false when something already was (nothing written). */
  createIfAbsent(relative: string, bytes: Uint8Array): Promise<boolean>;
  /** Writes or replaces a file whose name is never contended (data files, checkpoints, `_last_checkpoint`). */
  put(relative: string, bytes: Uint8Array): Promise<void>;
  /** Copies a local file in; it is whole at `relative` or not there at all. */
  putFile(relative: string, localPath: string): Promise<void>;
  delete(relative: string): Promise<void>;
  /** A local path to read a file of the table with DuckDB: the file itself, or a copy in `tempDir`. */
  localCopy(relative: string, tempDir: string): Promise<string>;
}

/** A table in a local folder. createIfAbsent writes a temp file then link()s it: link fails with EEXIST if the name is taken. */
export class LocalLogStore implements LogStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = root.endsWith(path.sep) ? root : root + path.sep;
  }

  private full(relative: string): string {
    return path.join(this.root, ...relative.split('/'));
  }

  async read(relative: string): Promise<Buffer | null> {
    try {
      return await readFile(this.full(relative));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new LoadError(`cannot read ${this.full(relative)}: ${(error as Error).message}`, { cause: error });
    }
  }

  async list(folder: string): Promise<StoredFile[]> {
    const found: StoredFile[] = [];
    const walk = async (relative: string): Promise<void> => {
      const entries = await readdir(this.full(relative), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw error;
      });
      for (const entry of entries) {
        const child = relative ? `${relative}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await walk(child);
        else if (entry.isFile()) {
          // Another writer's temp file can be gone between readdir and stat: it was never part of the table.
          const info = await stat(this.full(child)).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return null;
            throw error;
          });
          if (info) found.push({ path: child, size: info.size, modified: info.mtimeMs });
        }
      }
    };
    await walk(folder.replace(/\/$/, ''));
    return found;
  }

  async createIfAbsent(relative: string, bytes: Uint8Array): Promise<boolean> {
    const destination = this.full(relative);
    await mkdir(path.dirname(destination), { recursive: true });
    // Written whole under a private name first: a reader never sees a half-written commit.
    const temp = `${path.dirname(destination)}/.${path.basename(destination)}.${randomUUID()}.tmp`;
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, destination);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw describeWriteError(error, destination);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async put(relative: string, bytes: Uint8Array): Promise<void> {
    const destination = this.full(relative);
    await mkdir(path.dirname(destination), { recursive: true });
    await writeFileAtomic(destination, bytes);
  }

  async putFile(relative: string, localPath: string): Promise<void> {
    const destination = this.full(relative);
    if (path.resolve(localPath) === path.resolve(destination)) return;
    await mkdir(path.dirname(destination), { recursive: true });
    const temp = `${path.dirname(destination)}/.${path.basename(destination)}.${randomUUID()}.tmp`;
    try {
      await copyFile(localPath, temp);
      await rename(temp, destination);
    } catch (error) {
      await rm(temp, { force: true });
      throw describeWriteError(error, destination);
    }
  }

  async delete(relative: string): Promise<void> {
    await rm(this.full(relative), { force: true });
  }

  async localCopy(relative: string): Promise<string> {
    return this.full(relative);
  }
}
