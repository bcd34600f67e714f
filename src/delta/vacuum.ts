import { ConfigError } from '../core/errors.js';
import { LOG_DIR, commitPath, decodeDeltaPath } from './actions.js';
import type { LogStore } from './log-store.js';
import { listLog, parseCommit, readSnapshot } from './replay.js';

export interface VacuumResult {
  location: string;
  /** The oldest version still readable after the vacuum (time travel to it and later works). */
  oldestKept: number;
  latest: number;
  deleted: string[];
  /** Files no kept version reads but younger than the retention: a writer may be about to commit them. */
  keptYoung: number;
  dryRun: boolean;
}

/** What LocalLogStore names a data file while it is copied in; a killed run leaves it behind. */
const LOCAL_TEMP_FILE = /^\..+\.[0-9a-f-]{36}\.tmp$/;

/** `7d`, `12h`, `30m`, `0s` -> milliseconds. */
export function parseRetention(value: string): number {
  const match = /^(\d+)([dhms])$/.exec(value.trim());
  if (!match) throw new ConfigError(`--retain ${value}: expected a number and a unit, e.g. 7d, 12h, 30m or 0s`);
  return Number(match[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[match[2] as 'd' | 'h' | 'm' | 's'];
}

/**
 * Deletes data files that no version within the retention reads, and files no commit ever referenced (left by a
 * killed or conflicting writer), once they are older than the retention. Kept: every file of the version that was
 * current at (now - retention), and every file added after it, so time travel to any moment in the window reads
 * whole versions. The log itself is never touched.
 */
export async function vacuumTable(store: LogStore, retentionMs: number, options: { dryRun: boolean; now?: number }): Promise<VacuumResult> {
  const latestSnapshot = await readSnapshot(store);
  if (!latestSnapshot) throw new ConfigError(`${store.location} is not a Delta table (no ${LOG_DIR}/ commits)`, { hint: 'point at the folder that holds _delta_log/' });
  const now = options.now ?? Date.now();
  const cutoff = now - retentionMs;
  const { commits } = await listLog(store);
  const logFiles = new Map((await store.list(LOG_DIR)).map((file) => [file.path, file.modified]));
  // The version current at the cutoff: the newest committed at or before it (or the oldest the log has).
  const timestamps = new Map<number, number>();
  for (const version of commits) {
    const bytes = await store.read(commitPath(version));
    const info = bytes ? parseCommit(bytes.toString('utf8'), `${store.location}${commitPath(version)}`).find((action) => 'commitInfo' in action) : undefined;
    timestamps.set(version, info && 'commitInfo' in info ? info.commitInfo.timestamp : (logFiles.get(commitPath(version)) ?? 0));
  }
  const atCutoff = commits.filter((version) => timestamps.get(version)! <= cutoff);
  const oldestKept = Math.min(atCutoff.length > 0 ? Math.max(...atCutoff) : commits[0] ?? latestSnapshot.version, latestSnapshot.version);

  const needed = new Set<string>();
  const start = await readSnapshot(store, { version: oldestKept });
  for (const add of start!.files.values()) needed.add(decodeDeltaPath(add.path));
  for (const version of commits.filter((v) => v > oldestKept)) {
    const bytes = await store.read(commitPath(version));
    for (const action of parseCommit(bytes!.toString('utf8'), `${store.location}${commitPath(version)}`)) {
      if ('add' in action) needed.add(decodeDeltaPath(action.add.path));
    }
  }

  const deleted: string[] = [];
  let keptYoung = 0;
  for (const file of await store.list('')) {
    // The log, and what Spark and others keep beside data (`_` and `.` folders, such as _delta_log or _checkpoints).
    const segments = file.path.split('/');
    if (segments.slice(0, -1).some((segment) => segment.startsWith('_') || segment.startsWith('.'))) continue;
    // Hidden files (Spark's `.crc`s) are left alone, as Delta's own vacuum does; etl's half-copied temp files are not.
    const name = segments.at(-1)!;
    if ((name.startsWith('_') || name.startsWith('.')) && !LOCAL_TEMP_FILE.test(name)) continue;
    if (needed.has(file.path)) continue;
    if (file.modified > cutoff) {
      keptYoung++;
      continue;
    }
    if (!options.dryRun) await store.delete(file.path);
    deleted.push(file.path);
  }
  return { location: store.location, oldestKept, latest: latestSnapshot.version, deleted, keptYoung, dryRun: options.dryRun };
}
