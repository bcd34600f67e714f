import { link, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { constants, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, EtlError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { checkIdentifier } from '../core/names.js';

/** Exit code 75 (EX_TEMPFAIL): cron's convention for "try again later". */
export class PipelineBusyError extends EtlError {
  readonly kind = 'busy';
  readonly exitCode = 75;
}

export interface LockHolder {
  pid: number;
  started_at: string;
  run_id: string;
}

export interface PipelineLock {
  release(): Promise<void>;
  /** The run whose stale lock this one took over (it was killed part-way). */
  tookOverFrom?: LockHolder;
}

/**
 * One run per pipeline at a time: <data-dir>/locks/<pipeline>.lock, created exclusively. A lock whose
 * process is gone, or is no longer etl (the PID was reused), is stale and taken over with a warning.
 * `label` names what the lock guards in messages (`pipeline <name>` unless given).
 */
export async function acquireLock(dataDir: string, pipelineSlug: string, runId: string, log: Logger, now: Date, label = `pipeline ${pipelineSlug}`): Promise<PipelineLock> {
  const file = path.join(dataDir, 'locks', `${pipelineSlug}.lock`);
  mkdirSync(path.dirname(file), { recursive: true });
  const mine: LockHolder = { pid: process.pid, started_at: now.toISOString(), run_id: runId };
  let tookOverFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written whole beside it, then linked into place: the lock never exists without its holder.
    const draft = `${file}.${process.pid}`;
    await writeFile(draft, JSON.stringify(mine) + '\n');
    try {
      await link(draft, file);
      return { release: () => releaseIfMine(file, runId), tookOverFrom };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await rm(draft, { force: true });
    }
    const holder = await readHolder(file);
    if (holder && isLiveEtlProcess(holder.pid)) {
      throw new PipelineBusyError(`${label} is already running: PID ${holder.pid}, started ${holder.started_at}`, {
        hint: 'this run did nothing; cron will try again at the next slot',
      });
    }
    // Renamed aside rather than deleted, so of two runs taking over at once only one removes it.
    const aside = `${file}.stale-${process.pid}`;
    try {
      await rename(file, aside);
    } catch {
      continue;
    }
    await rm(aside, { force: true });
    tookOverFrom = holder ?? undefined;
    log.warn(holder ? `took over the lock of ${label} from PID ${holder.pid} (started ${holder.started_at}), which is no longer running` : `took over a damaged lock file ${file}`);
  }
  throw new PipelineBusyError(`${label}: could not take the lock ${file}`, { hint: 'another run is starting at the same moment; try again' });
}

/** A holder is one line of JSON, well under this: a bigger lock file was not written by etl and is not read. */
const MAX_LOCK_BYTES = 4096;

/**
 * Who holds the lock, or null when it is gone or damaged (not JSON, not etl's, bigger than MAX_LOCK_BYTES: at
 * most that much is read). Opened non-blocking and checked on the open file: a directory, FIFO or device in
 * the lock's place is refused with one line rather than read, waited on or renamed aside.
 */
async function readHolder(file: string): Promise<LockHolder | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    // Removed meanwhile, or unreadable: not a holder etl can trust.
    return null;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      const kind = info.isDirectory() ? 'a directory' : info.isFIFO() ? 'a FIFO' : info.isSocket() ? 'a socket' : 'a device';
      throw new ConfigError(`the lock ${file} is ${kind}, not a lock file etl wrote`, { hint: 'remove it, then run again: etl creates the lock file itself' });
    }
    if (info.size > MAX_LOCK_BYTES) return null;
    const buffer = Buffer.alloc(MAX_LOCK_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_LOCK_BYTES, 0);
    const holder = JSON.parse(buffer.subarray(0, bytesRead).toString('utf8')) as LockHolder | null;
    return holder !== null && typeof holder === 'object' && Number.isInteger(holder.pid) ? holder : null;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // Not written by etl.
    return null;
  } finally {
    await handle.close();
  }
}

async function releaseIfMine(file: string, runId: string): Promise<void> {
  const holder = await readHolder(file).catch(() => null);
  if (holder?.run_id === runId) await rm(file, { force: true });
}

/** Alive and running etl: on Linux an argument of its command line is etl or etl.js; elsewhere a live PID counts. */
function isLiveEtlProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => /^etl(\.js)?$/.test(path.basename(arg)));
  } catch {
    // Gone between the two checks.
    return false;
  }
}

/**
 * The raw layer of one dataset is written by extract and read by transform, one process at a time:
 * <data-dir>/locks/raw.<source>.<dataset>.lock (with dots, which no pipeline's lock name holds). A transform
 * started while an extract writes (or the other way round) is refused at once with exit 75, before it reads
 * or writes anything, rather than mixing the files of two extractions or waiting behind a download of
 * unknown length.
 */
export function acquireRawLock(dataDir: string, source: string, dataset: string, runId: string, log: Logger, instance?: string): Promise<PipelineLock> {
  const name = `raw.${checkIdentifier(source, 'source')}.${checkIdentifier(dataset, 'dataset')}${instance ? `.${instance}` : ''}`;
  return acquireLock(dataDir, name, runId, log, new Date(), `an extract or transform of ${source} ${dataset}${instance ? ` ${instance}` : ''}`);
}
