import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, DataError } from '../core/errors.js';
import { LAST_CHECKPOINT, LOG_DIR, READER_VERSION, commitVersionOf, type Action, type AddAction, type CommitInfoAction, type MetaDataAction, type ProtocolAction, type RemoveAction } from './actions.js';
import { withDuck } from './duck.js';
import type { LogStore } from './log-store.js';

/** A table as of one version: what a reader of that version sees. */
export interface Snapshot {
  version: number;
  protocol: ProtocolAction;
  metaData: MetaDataAction;
  /** The live data files, keyed by their path as written in the log. */
  files: Map<string, AddAction>;
  /** Files removed and not added again, keyed by path: the tombstones a checkpoint carries for other engines' vacuum. */
  tombstones: Map<string, RemoveAction>;
  /** The last version each application committed (txn actions). */
  txns: Map<string, number>;
  /** Every version's commitInfo that is still in the log (those folded into a checkpoint and since removed are not). */
  history: Array<{ version: number; commitInfo: CommitInfoAction | undefined }>;
  /** The checkpoint the replay started from, if any. */
  checkpoint: number | undefined;
}

const CHECKPOINT_FILE = /^(\d{20})\.checkpoint(?:\.\d{10}\.\d{10})?\.parquet$/;

/** The versions whose commit files the log holds, ascending, and the checkpoints (version -> part files). */
export async function listLog(store: LogStore): Promise<{ commits: number[]; checkpoints: Map<number, string[]> }> {
  const commits: number[] = [];
  const checkpoints = new Map<number, string[]>();
  for (const file of await store.list(LOG_DIR)) {
    const name = file.path.slice(LOG_DIR.length + 1);
    const version = commitVersionOf(name);
    if (version !== undefined) commits.push(version);
    const checkpoint = CHECKPOINT_FILE.exec(name);
    if (checkpoint) {
      const at = Number(checkpoint[1]);
      checkpoints.set(at, [...(checkpoints.get(at) ?? []), file.path].sort());
    }
  }
  return { commits: commits.sort((a, b) => a - b), checkpoints };
}

/**
 * Replays the log up to `version` (default: the latest): the newest checkpoint at or before it, then each
 * commit after it in order. Undefined when the folder holds no Delta log at all. A gap in the versions, a
 * line that is not JSON, or a table needing a newer reader is a DataError naming the file.
 */
export async function readSnapshot(store: LogStore, options: { version?: number } = {}): Promise<Snapshot | undefined> {
  const { commits, checkpoints } = await listLog(store);
  const latest = Math.max(commits.at(-1) ?? -1, ...checkpoints.keys());
  if (latest < 0) {
    if (options.version !== undefined) throw new ConfigError(`${store.location} is not a Delta table (no ${LOG_DIR}/ commits)`, { hint: 'point at the folder that holds _delta_log/' });
    return undefined;
  }
  const target = options.version ?? latest;
  if (target > latest || target < 0) throw new ConfigError(`${store.location} has versions up to ${latest}; there is no version ${target}`, { hint: `choose a version between 0 and ${latest}` });

  const start = await startingCheckpoint(store, checkpoints, target);
  const state: ReplayState = { protocol: undefined, metaData: undefined, files: new Map(), tombstones: new Map(), txns: new Map(), history: [] };
  if (start !== undefined) for (const action of await readCheckpoint(store, checkpoints.get(start)!)) apply(state, action, true);

  const first = start === undefined ? 0 : start + 1;
  const available = new Set(commits);
  for (let version = first; version <= target; version++) {
    const file = `${LOG_DIR}/${String(version).padStart(20, '0')}.json`;
    if (!available.has(version)) {
      throw new DataError(`${store.location}${file} is missing: the log has no commit for version ${version}${start === undefined ? '' : ` (after checkpoint ${start})`}`, { hint: 'the table log is damaged; restore the file from a backup' });
    }
    const bytes = await store.read(file);
    if (!bytes) throw new DataError(`${store.location}${file} vanished while the log was read`, { hint: 'run again' });
    const actions = parseCommit(bytes.toString('utf8'), `${store.location}${file}`);
    let commitInfo: CommitInfoAction | undefined;
    for (const action of actions) {
      if ('commitInfo' in action) commitInfo = action.commitInfo;
      apply(state, action, false);
    }
    state.history.push({ version, commitInfo });
  }
  if (!state.protocol || !state.metaData) {
    throw new DataError(`${store.location}${LOG_DIR}/ has no ${state.protocol ? 'metaData' : 'protocol'} action up to version ${target}`, { hint: 'the table log is damaged: its first commit must hold protocol and metaData' });
  }
  if (state.protocol.minReaderVersion > READER_VERSION) {
    throw new DataError(`${store.location} needs a Delta reader of version ${state.protocol.minReaderVersion}${state.protocol.readerFeatures?.length ? ` (${state.protocol.readerFeatures.join(', ')})` : ''}; etl reads version ${READER_VERSION} tables`, { hint: 'read this table with Spark or delta-rs' });
  }
  return { version: target, protocol: state.protocol, metaData: state.metaData, files: state.files, tombstones: state.tombstones, txns: state.txns, history: state.history, checkpoint: start };
}

interface ReplayState {
  protocol: ProtocolAction | undefined;
  metaData: MetaDataAction | undefined;
  files: Map<string, AddAction>;
  tombstones: Map<string, RemoveAction>;
  txns: Map<string, number>;
  history: Snapshot['history'];
}

function apply(state: ReplayState, action: Action, fromCheckpoint: boolean): void {
  if ('add' in action) {
    state.files.set(action.add.path, action.add);
    state.tombstones.delete(action.add.path);
  } else if ('remove' in action) {
    // A checkpoint's removes are only tombstones; its adds are already only the live files.
    if (!fromCheckpoint) state.files.delete(action.remove.path);
    state.tombstones.set(action.remove.path, action.remove);
  }
  else if ('metaData' in action) state.metaData = action.metaData;
  else if ('protocol' in action) state.protocol = action.protocol;
  else if ('txn' in action) state.txns.set(action.txn.appId, action.txn.version);
}

/** One commit file: JSON lines, each one action. Unknown actions (cdc, domainMetadata…) are kept and ignored by apply. */
export function parseCommit(text: string, file: string): Action[] {
  const actions: Action[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new DataError(`${file} line ${index + 1} is not valid JSON (${(error as Error).message}): the Delta log is damaged`, { hint: 'restore the file from a backup; etl does not guess what a damaged commit meant' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DataError(`${file} line ${index + 1} is not an action (a JSON object): the Delta log is damaged`, { hint: 'restore the file from a backup' });
    }
    actions.push(parsed as Action);
  }
  return actions;
}

/** `_last_checkpoint` when it points at or before the target, else the newest checkpoint listed at or before it. */
async function startingCheckpoint(store: LogStore, checkpoints: Map<number, string[]>, target: number): Promise<number | undefined> {
  const hint = await store.read(LAST_CHECKPOINT).then((bytes) => {
    try {
      return bytes ? (JSON.parse(bytes.toString('utf8')) as { version?: number }).version : undefined;
    } catch {
      return undefined; // a damaged hint only costs a listing: the checkpoint files themselves are what counts
    }
  });
  if (hint !== undefined && hint <= target && checkpoints.has(hint)) return hint;
  const candidates = [...checkpoints.keys()].filter((version) => version <= target);
  return candidates.length > 0 ? Math.max(...candidates) : undefined;
}

/** A parquet checkpoint's rows as actions, through DuckDB (a row holds one non-null action column). */
async function readCheckpoint(store: LogStore, parts: string[]): Promise<Action[]> {
  const tempDir = await mkdtemp(path.join(tmpdir(), 'etl-delta-'));
  try {
    const files = await Promise.all(parts.map((part) => store.localCopy(part, tempDir)));
    return await withDuck(async (connection) => {
      const list = files.map((_, index) => `$${index + 1}`).join(', ');
      const rows = (await connection.runAndReadAll(`SELECT to_json(checkpoint)::VARCHAR AS row FROM read_parquet([${list}]) AS checkpoint`, files)).getRowObjectsJS();
      const actions: Action[] = [];
      for (const { row } of rows) {
        const parsed = JSON.parse(String(row)) as Record<string, unknown>;
        for (const kind of ['protocol', 'metaData', 'add', 'remove', 'txn'] as const) {
          if (parsed[kind] !== null && parsed[kind] !== undefined) actions.push({ [kind]: parsed[kind] } as Action);
        }
      }
      return actions;
    });
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(`cannot read the checkpoint ${store.location}${parts[0]}: ${(error as Error).message}`, { cause: error, hint: 'delete the damaged checkpoint and _last_checkpoint: the JSON commits are replayed instead' });
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}
