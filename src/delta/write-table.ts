import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { quoteIdentifier } from '../transform/parquet/duckdb-sql.js';
import { READER_VERSION, WRITER_VERSION, decodeDeltaPath, encodeDeltaPath, type Action, type AddAction, type MetaDataAction } from './actions.js';
import { commitWithRetry, describeKey, partitionKey, type CommitPlan } from './commit.js';
import { columnsOf, describeDataFile, newDataFilePath, stageDataFiles, type Column, type StagedFile } from './data-files.js';
import { withDuck } from './duck.js';
import type { LogStore } from './log-store.js';
import type { Snapshot } from './replay.js';
import { checkPartitionColumns, evolveSchema, parseSchemaString, schemaFields, schemaString } from './schema.js';

export interface DeltaWriteRequest {
  /** The run's table as one local parquet file. */
  parquet: string;
  store: LogStore;
  partitionBy: readonly string[];
  /** Rows whose key is in the table are replaced, new keys added; undefined: each partition written is replaced whole. */
  mergeKey: readonly string[] | undefined;
  /** appId (the pipeline) and version (the run): a commit that already landed is not made twice. */
  txn: { appId: string; version: number } | undefined;
  log: Logger;
}

export interface DeltaWriteResult {
  location: string;
  /** The version committed, or undefined when the table already held this run's data. */
  version: number | undefined;
  rows: number;
  added: string[];
  removed: string[];
  /** Partitions (`edition=2019`) whose files this commit replaced or added. */
  partitions: string[];
  unchanged: number;
  retriedAfter: number[];
}

/** A tag etl puts on each file it adds: the sha256 of its bytes, so a re-run with the same rows commits nothing. */
const SHA256_TAG = 'etl.sha256';

/**
 * Writes a run's table into a Delta table as one commit: each partition the run holds is replaced (its live
 * files removed, the new file added) or, with a merge key, rewritten with the new rows merged in; partitions the
 * run does not hold are left as they are. Data files go in first, under fresh names; the commit file last.
 */
export async function writeDeltaTable(request: DeltaWriteRequest): Promise<DeltaWriteResult> {
  const { store, partitionBy, mergeKey, log } = request;
  const dir = await mkdtemp(path.join(tmpdir(), 'etl-delta-'));
  const uploaded = new Set<string>();
  let committed: Set<string> | undefined;
  try {
    return await withDuck(async (connection) => {
      const { columns, files: staged } = await stageDataFiles(connection, request.parquet, partitionBy, dir);
      if (mergeKey) await checkMergeKey(connection, request.parquet, columns, mergeKey);
      const incoming = schemaFields(columns);
      const rows = staged.reduce((sum, file) => sum + file.stats.numRecords, 0);
      let planned: Planned | undefined;
      const outcome = await commitWithRetry(
        store,
        { name: mergeKey ? 'MERGE' : 'WRITE', parameters: { mode: mergeKey ? 'merge' : 'replacePartitions', partitionBy: JSON.stringify(partitionBy), ...(mergeKey ? { mergeKey: JSON.stringify(mergeKey) } : {}) } },
        async (snapshot) => {
          // Equal, not at-least: two machines running the same pipeline have their own runs, and neither is the other's retry.
          if (request.txn && snapshot && snapshot.txns.get(request.txn.appId) === request.txn.version) {
            log.info(`Delta: ${store.location} already holds run ${request.txn.version} of ${request.txn.appId} (version ${snapshot.version}); nothing to commit`);
            return null;
          }
          const merged = mergeKey && snapshot ? await mergedFiles(connection, store, snapshot, staged, partitionBy, mergeKey, dir) : { files: staged, unchanged: 0 };
          planned = planCommit(snapshot, merged.files, incoming, partitionBy, request, store.location, Boolean(mergeKey));
          planned.unchanged += merged.unchanged;
          if (!planned.plan) return null;
          const adds = planned.adds;
          return {
            ...planned.plan,
            beforeCommit: async () => {
              for (const file of adds) {
                if (uploaded.has(file.relative)) continue;
                await store.putFile(file.relative, file.local);
                uploaded.add(file.relative);
              }
            },
          };
        },
        log,
      );
      committed = new Set(outcome.plan ? planned!.adds.map((file) => file.relative) : []);
      return {
        location: store.location,
        version: outcome.version,
        rows,
        added: outcome.plan ? planned!.adds.map((file) => file.relative) : [],
        removed: outcome.plan ? planned!.removed : [],
        partitions: outcome.plan ? [...outcome.plan.touched].map((key) => describeKey(partitionBy, key)) : [],
        unchanged: outcome.plan ? planned!.unchanged : staged.length,
        retriedAfter: outcome.retriedAfter,
      };
    });
  } finally {
    // Files sent for a plan that did not become the commit (a conflict, a retry that re-planned) are no table's.
    for (const relative of uploaded) if (!committed?.has(relative)) await store.delete(relative).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

interface Planned {
  plan: CommitPlan | null;
  adds: StagedFile[];
  removed: string[];
  unchanged: number;
}

function planCommit(snapshot: Snapshot | undefined, files: readonly StagedFile[], incoming: ReturnType<typeof schemaFields>, partitionBy: readonly string[], request: DeltaWriteRequest, location: string, merge: boolean): Planned {
  const actions: Action[] = [];
  let metaData: MetaDataAction | undefined;
  if (!snapshot) {
    actions.push({ protocol: { minReaderVersion: READER_VERSION, minWriterVersion: WRITER_VERSION } });
    metaData = { id: randomUUID(), format: { provider: 'parquet', options: {} }, schemaString: schemaString(incoming), partitionColumns: [...partitionBy], configuration: {}, createdTime: Date.now() };
  } else {
    if (snapshot.protocol.minWriterVersion > WRITER_VERSION) {
      throw new DataError(`the Delta table ${location} needs a writer of version ${snapshot.protocol.minWriterVersion}; etl writes version ${WRITER_VERSION} tables`, { hint: 'write to this table with Spark or delta-rs, or let etl write a new table' });
    }
    checkPartitionColumns(snapshot.metaData.partitionColumns, partitionBy, location);
    const current = parseSchemaString(snapshot.metaData.schemaString, location);
    // Writer version 2 means enforcing column invariants (PROTOCOL.md, "Column Invariants"), which etl does not evaluate.
    const guarded = current.find((field) => 'delta.invariants' in field.metadata);
    if (guarded) {
      throw new DataError(`the Delta table ${location} has an invariant on column ${JSON.stringify(guarded.name)}, which etl cannot check`, { hint: 'write to this table with Spark or delta-rs, or let etl write a new table' });
    }
    const evolved = evolveSchema(current, incoming, location);
    checkNotNull(current, files, incoming, location);
    if (evolved) metaData = { ...snapshot.metaData, schemaString: schemaString(evolved) };
  }
  if (metaData) actions.push({ metaData });

  const live = new Map<string, AddAction[]>();
  for (const add of snapshot?.files.values() ?? []) {
    const key = partitionKey(partitionBy, add.partitionValues);
    live.set(key, [...(live.get(key) ?? []), add]);
  }
  const touched = new Set<string>();
  const adds: StagedFile[] = [];
  const removed: string[] = [];
  let unchanged = 0;
  const now = Date.now();
  for (const file of files) {
    const key = partitionKey(partitionBy, file.partitionValues);
    const current = live.get(key) ?? [];
    // Merged files are staged only for partitions whose rows change; otherwise the same bytes mean the same rows.
    if (!merge && current.length === 1 && current[0]!.tags?.[SHA256_TAG] === file.sha256) {
      unchanged++;
      continue;
    }
    touched.add(key);
    // An append-only table (PROTOCOL.md, "Append-only Tables") takes new files but no remove with dataChange.
    if (current.length > 0 && snapshot?.metaData.configuration?.['delta.appendOnly'] === 'true') {
      throw new DataError(`the Delta table ${location} is append-only (delta.appendOnly), and this run would replace ${partitionBy.length > 0 ? `the partition ${describeKey(partitionBy, key)}` : 'its rows'}`, {
        hint: 'write to a table that is not append-only; nothing was committed',
      });
    }
    for (const old of current) {
      actions.push({ remove: { path: old.path, deletionTimestamp: now, dataChange: true, extendedFileMetadata: true, partitionValues: old.partitionValues, size: old.size } });
      removed.push(decodeDeltaPath(old.path));
    }
    actions.push({
      add: { path: encodeDeltaPath(file.relative), partitionValues: file.partitionValues, size: file.size, modificationTime: now, dataChange: true, stats: JSON.stringify(file.stats), tags: { [SHA256_TAG]: file.sha256 } },
    });
    adds.push(file);
  }
  if (touched.size === 0 && !metaData) return { plan: null, adds: [], removed: [], unchanged };
  if (request.txn) actions.push({ txn: { appId: request.txn.appId, version: request.txn.version, lastUpdated: now } });
  return { plan: { actions, touched }, adds, removed, unchanged };
}

/** A column the table declares not nullable (`nullable: false`, as Spark writes NOT NULL) must get no null from this run. */
function checkNotNull(current: ReturnType<typeof parseSchemaString>, files: readonly StagedFile[], incoming: ReturnType<typeof schemaFields>, location: string): void {
  for (const field of current.filter((f) => !f.nullable)) {
    const missing = !incoming.some((column) => column.name === field.name);
    const nulls = files.reduce((sum, file) => sum + (field.name in file.partitionValues ? (file.partitionValues[field.name] === null ? file.stats.numRecords : 0) : (file.stats.nullCount[field.name] ?? 0)), 0);
    if (missing || nulls > 0) {
      throw new DataError(`column ${JSON.stringify(field.name)} is NOT NULL in the Delta table ${location}, but this run ${missing ? 'has no such column' : `has ${nulls} null value(s) in it`}`, {
        hint: 'fill the column in the source rows, or write to a new table; nothing was committed',
      });
    }
  }
}

/** A key that appears twice in one batch has no single row to keep: a data error naming the key. */
async function checkMergeKey(connection: DuckDBConnection, parquet: string, columns: readonly Column[], mergeKey: readonly string[]): Promise<void> {
  for (const column of mergeKey) {
    if (!columns.some((c) => c.name === column)) throw new DataError(`--merge-key ${mergeKey.join(',')}: the table has no column ${JSON.stringify(column)}`, { hint: `choose from: ${columns.map((c) => c.name).join(', ')}` });
  }
  const keys = mergeKey.map(quoteIdentifier).join(', ');
  const duplicate = (await connection.runAndReadAll(`SELECT to_json({${mergeKey.map((column, index) => `'k${index}': ${quoteIdentifier(column)}`).join(', ')}})::VARCHAR AS key, count(*) AS n FROM read_parquet($1) GROUP BY ${keys} HAVING count(*) > 1 ORDER BY n DESC LIMIT 1`, [parquet])).getRowObjectsJS()[0];
  if (duplicate) {
    const values = JSON.parse(String(duplicate.key)) as Record<string, unknown>;
    const shown = mergeKey.map((column, index) => `${column}=${JSON.stringify(values[`k${index}`])}`).join(', ');
    throw new DataError(`--merge-key ${mergeKey.join(',')}: the key (${shown}) appears ${Number(duplicate.n)} times in this run's rows; a merge needs each key once`, {
      hint: 'fix the source rows or choose a key that identifies one row; nothing was committed',
    });
  }
}

/**
 * Copy-on-write merge: for each partition the run holds, the rows of its live files whose key is not among the
 * new rows, plus the new rows, go into one new file that replaces them. A partition whose new rows are all already
 * in the table, exactly, is left alone (counted as unchanged).
 */
async function mergedFiles(connection: DuckDBConnection, store: LogStore, snapshot: Snapshot, staged: readonly StagedFile[], partitionBy: readonly string[], mergeKey: readonly string[], dir: string): Promise<{ files: StagedFile[]; unchanged: number }> {
  const files: StagedFile[] = [];
  let unchanged = 0;
  const keys = mergeKey.filter((column) => !partitionBy.includes(column));
  for (const file of staged) {
    const key = partitionKey(partitionBy, file.partitionValues);
    const live = [...snapshot.files.values()].filter((add) => partitionKey(partitionBy, add.partitionValues) === key);
    if (live.length === 0) {
      files.push(file);
      continue;
    }
    const locals = await Promise.all(live.map((add) => store.localCopy(decodeDeltaPath(add.path), dir)));
    const old = `read_parquet([${locals.map((_, index) => `$${index + 2}`).join(', ')}], union_by_name = true)`;
    const params = [file.local, ...locals];
    const freshColumns = await columnsOf(connection, file.local);
    const oldAlone = `read_parquet([${locals.map((_, index) => `$${index + 1}`).join(', ')}], union_by_name = true)`;
    const oldColumns = new Set((await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${oldAlone}`, locals)).getRowObjectsJS().map((row) => String(row.column_name)));
    const list = freshColumns.map((column) => quoteIdentifier(column.name)).join(', ');
    if (freshColumns.every((column) => oldColumns.has(column.name))) {
      const missing = (await connection.runAndReadAll(`SELECT count(*) AS n FROM (SELECT ${list} FROM read_parquet($1) EXCEPT ALL SELECT ${list} FROM ${old})`, params)).getRowObjectsJS()[0]!;
      if (Number(missing.n) === 0) {
        unchanged++;
        continue;
      }
    }
    const local = path.join(dir, `merged-${files.length}-${randomUUID()}.parquet`);
    const on = keys.length > 0 ? keys.map((column) => `o.${quoteIdentifier(column)} IS NOT DISTINCT FROM f.${quoteIdentifier(column)}`).join(' AND ') : 'true';
    await connection.run(`COPY (SELECT * FROM read_parquet($1) UNION ALL BY NAME SELECT o.* FROM ${old} AS o ANTI JOIN read_parquet($1) AS f ON ${on}) TO $${params.length + 1} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`, [...params, local]);
    files.push(await describeDataFile(connection, local, newDataFilePath(partitionBy, file.partitionValues), file.partitionValues));
  }
  return { files, unchanged };
}
