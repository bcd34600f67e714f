import type { Logger } from '../core/log.js';
import { plural } from '../core/plural.js';
import type { SinkOptions } from '../load/destination.js';
import { openLogStore } from './open-store.js';
import { writeDeltaTable, type DeltaWriteResult } from './write-table.js';

export interface DeltaRequest {
  /** The run's whole table, one local parquet file. */
  parquet: string;
  /** The table's folder: a local path, file://, s3://bucket/prefix/ or gs://bucket/prefix/. */
  table: string;
  sink: SinkOptions;
  partitionBy: string | undefined;
  mergeKey: string[] | undefined;
  txn?: { appId: string; version: number };
}

/** Writes one commit to the table at `table` and says what it committed. */
export async function commitRunToDelta(request: DeltaRequest, log: Logger): Promise<DeltaWriteResult> {
  const store = await openLogStore(request.table, request.sink);
  const progress = log.progress(`Delta: committing to ${store.location}`);
  try {
    const result = await writeDeltaTable({ parquet: request.parquet, store, partitionBy: request.partitionBy ? [request.partitionBy] : [], mergeKey: request.mergeKey, txn: request.txn, log });
    progress.done(describeDeltaCommit(result));
    return result;
  } catch (error) {
    progress.fail(`Delta: nothing committed to ${store.location}`);
    throw error;
  }
}

export function describeDeltaCommit(result: DeltaWriteResult): string {
  if (result.version === undefined) return `Delta: ${result.location} already holds these rows; nothing committed`;
  const what = result.partitions.length > 0 && result.partitions[0] !== '' ? `${plural(result.partitions.length, 'partition')} written (${result.partitions.slice(0, 5).join(', ')}${result.partitions.length > 5 ? ', …' : ''})` : 'the table written';
  return `Delta: version ${result.version} of ${result.location}: ${what}, ${plural(result.added.length, 'file')} added, ${result.removed.length} removed${result.unchanged > 0 ? `, ${result.unchanged} unchanged` : ''}`;
}
