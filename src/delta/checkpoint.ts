import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LAST_CHECKPOINT, checkpointPath, type Action } from './actions.js';
import { withDuck } from './duck.js';
import type { LogStore } from './log-store.js';
import type { Snapshot } from './replay.js';

/** The checkpoint schema Spark writes (PROTOCOL.md, "Checkpoint Schema"), without the optional parsed columns. */
const MAP = 'MAP(VARCHAR, VARCHAR)';
const COLUMNS = {
  txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
  add: `STRUCT(path VARCHAR, partitionValues ${MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${MAP})`,
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${MAP}, size BIGINT)`,
  metaData: `STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, options ${MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], configuration ${MAP}, createdTime BIGINT)`,
  protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)',
};

/** How long a remove stays in checkpoints: Delta's default delta.deletedFileRetentionDuration, one week. */
const TOMBSTONE_RETENTION_MS = 7 * 86_400_000;

/**
 * Writes the parquet checkpoint of `snapshot` (protocol, metaData, every txn and live file) and then
 * `_last_checkpoint`, so readers start there instead of replaying every commit. A checkpoint is only a cache
 * of the log: one that is never written, or half written and then replaced, changes nothing a reader sees
 * (the checkpoint file appears whole or not at all, and `_last_checkpoint` is written only after it).
 */
export async function writeCheckpoint(store: LogStore, snapshot: Snapshot, now = Date.now()): Promise<void> {
  const rows: Action[] = [
    { protocol: { minReaderVersion: snapshot.protocol.minReaderVersion, minWriterVersion: snapshot.protocol.minWriterVersion } },
    { metaData: snapshot.metaData },
    ...[...snapshot.txns].map(([appId, version]) => ({ txn: { appId, version, lastUpdated: null } })),
    // In a checkpoint, adds carry dataChange false: they re-state files, they do not add data.
    ...[...snapshot.files.values()].map((add) => ({ add: { ...add, dataChange: false } })),
    // PROTOCOL.md: a checkpoint keeps the remove tombstones until they expire. Spark's VACUUM reads them to keep the
    // files older versions still need; without them it would delete those files as soon as the checkpoint lands.
    ...[...snapshot.tombstones.values()]
      .filter((remove) => (remove.deletionTimestamp ?? now) > now - TOMBSTONE_RETENTION_MS)
      .map((remove) => ({ remove: { path: remove.path, deletionTimestamp: remove.deletionTimestamp, dataChange: false, extendedFileMetadata: remove.extendedFileMetadata, partitionValues: remove.partitionValues, size: remove.size } })),
  ];
  const dir = await mkdtemp(path.join(tmpdir(), 'etl-delta-checkpoint-'));
  try {
    const json = path.join(dir, 'checkpoint.json');
    const parquet = path.join(dir, 'checkpoint.parquet');
    await writeFile(json, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const columns = `{${Object.entries(COLUMNS).map(([name, type]) => `${name}: '${type}'`).join(', ')}}`;
    await withDuck((connection) =>
      connection.run(`COPY (SELECT * FROM read_json($1, format = 'newline_delimited', columns = ${columns})) TO $2 (FORMAT parquet, COMPRESSION snappy)`, [json, parquet]),
    );
    await store.put(checkpointPath(snapshot.version), await readFile(parquet));
    await store.put(LAST_CHECKPOINT, Buffer.from(JSON.stringify({ version: snapshot.version, size: rows.length }) + '\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
