import { LoadError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { PACKAGE_NAME, VERSION } from '../version.js';
import { CHECKPOINT_INTERVAL, commitPath, serializeCommit, type Action, type CommitInfoAction } from './actions.js';
import { writeCheckpoint } from './checkpoint.js';
import type { LogStore } from './log-store.js';
import { parseCommit, readSnapshot, type Snapshot } from './replay.js';

/** What a writer wants to commit against a given snapshot, or null when the table already holds it. */
export interface CommitPlan {
  actions: Action[];
  /** Partition keys (see partitionKey) whose files this commit adds or removes; a concurrent commit touching one is a conflict. */
  touched: Set<string>;
  /** Called with the plan before its commit file is written: the data files it adds must be in place first. */
  beforeCommit?: () => Promise<void>;
}

export interface CommitOutcome {
  /** The version written, or undefined when nothing needed committing. */
  version: number | undefined;
  /** The snapshot the commit was planned against (the last one read). */
  readVersion: number | undefined;
  plan: CommitPlan | null;
  /** Versions another writer committed first, which this commit was re-planned after. */
  retriedAfter: number[];
}

/** Losing this many races in a row is a busy table, not bad luck. */
const MAX_ATTEMPTS = 10;

/** The key of a partition, the same for a file's add and remove: its values in column order, as JSON. */
export function partitionKey(partitionColumns: readonly string[], values: Record<string, string | null> | undefined): string {
  return JSON.stringify(partitionColumns.map((column) => values?.[column] ?? null));
}

/**
 * One atomic commit. `plan` is called with the latest snapshot; its actions go to the next version's commit
 * file through the store's create-if-absent. When another writer took that version first, the commits it
 * (and any others) made are read: if one touched a partition this commit touches, that is a conflict (a LoadError
 * saying which version and partition); otherwise the plan is made again against the new snapshot and written as
 * the following version.
 */
export async function commitWithRetry(
  store: LogStore,
  operation: { name: string; parameters: Record<string, unknown> },
  plan: (snapshot: Snapshot | undefined) => Promise<CommitPlan | null>,
  log: Logger,
): Promise<CommitOutcome> {
  let snapshot = await readSnapshot(store);
  const retriedAfter: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const planned = await plan(snapshot);
    if (!planned) return { version: undefined, readVersion: snapshot?.version, plan: null, retriedAfter };
    const version = (snapshot?.version ?? -1) + 1;
    const commitInfo: CommitInfoAction = {
      timestamp: Date.now(),
      operation: operation.name,
      operationParameters: operation.parameters,
      ...(snapshot ? { readVersion: snapshot.version } : {}),
      isBlindAppend: false,
      engineInfo: `${PACKAGE_NAME}/${VERSION}`,
    };
    await planned.beforeCommit?.();
    if (await store.createIfAbsent(commitPath(version), Buffer.from(serializeCommit([{ commitInfo }, ...planned.actions])))) {
      if (version > 0 && version % CHECKPOINT_INTERVAL === 0) await checkpointAfter(store, version, log);
      return { version, readVersion: snapshot?.version, plan: planned, retriedAfter };
    }
    // Another writer committed this version first.
    const newer = await readSnapshot(store);
    const partitionColumns = newer?.metaData.partitionColumns ?? [];
    for (let other = version; other <= (newer?.version ?? -1); other++) {
      const conflict = await conflictIn(store, other, planned.touched, partitionColumns);
      if (conflict) {
        throw new LoadError(`Delta commit to ${store.location} conflicts with version ${other}, committed meanwhile by another writer: ${conflict}`, {
          hint: 'nothing of this run was committed; run again to write on top of the other writer\'s data',
        });
      }
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw new LoadError(`Delta commit to ${store.location}: other writers took ${MAX_ATTEMPTS} versions in a row before this one`, { hint: 'the table is busy: run again later' });
    }
    retriedAfter.push(version);
    log.info(`Delta: version ${version} of ${store.location} was committed by another writer (other partitions); retrying as version ${(newer?.version ?? version) + 1}`);
    snapshot = newer;
  }
}

/**
 * Why a concurrent commit conflicts with ours, or undefined when it touched none of our partitions. A concurrent
 * metaData or protocol (shards creating the table at once, another run adding a column) is not a conflict by
 * itself: the plan is made again against the new snapshot, which checks the partition columns, the column types
 * and the writer version afresh and refuses what no longer fits.
 */
async function conflictIn(store: LogStore, version: number, touched: Set<string>, partitionColumns: readonly string[]): Promise<string | undefined> {
  const bytes = await store.read(commitPath(version));
  if (!bytes) return undefined;
  for (const action of parseCommit(bytes.toString('utf8'), `${store.location}${commitPath(version)}`)) {
    const file = 'add' in action ? action.add : 'remove' in action ? action.remove : undefined;
    // dataChange false (a compaction) rearranges rows without changing them: not a conflict.
    if (file && file.dataChange !== false) {
      const key = partitionKey(partitionColumns, file.partitionValues);
      if (touched.has(key)) return partitionColumns.length > 0 ? `it also wrote the partition ${describeKey(partitionColumns, key)}` : 'it also wrote the (unpartitioned) table';
    }
  }
  return undefined;
}

export function describeKey(partitionColumns: readonly string[], key: string): string {
  const values = JSON.parse(key) as Array<string | null>;
  return partitionColumns.map((column, index) => `${column}=${values[index] === null ? 'null' : values[index]}`).join('/');
}

/** A failed checkpoint costs readers time, not data: the commit stands, so it is only a warning. */
async function checkpointAfter(store: LogStore, version: number, log: Logger): Promise<void> {
  try {
    const snapshot = await readSnapshot(store, { version });
    if (snapshot) await writeCheckpoint(store, snapshot);
  } catch (error) {
    log.warn(`Delta: version ${version} is committed, but its checkpoint could not be written (${(error as Error).message}); readers replay the JSON commits instead`);
  }
}
