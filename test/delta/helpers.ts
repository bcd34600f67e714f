import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { decodeDeltaPath, type Action } from '../../src/delta/actions.js';
import type { Snapshot } from '../../src/delta/replay.js';
import { readParquet } from '../helpers/parquet.js';

/** A parquet file made from SQL (a VALUES list or a query), as transform would hand to the Delta writer. */
export async function parquetFrom(sql: string, file: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`COPY (${sql}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return file;
}

/** Rows a reader of the snapshot sees: its live files read with hyparquet (not DuckDB), partition values added from the log. */
export async function snapshotRows(root: string, snapshot: Snapshot): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const add of snapshot.files.values()) {
    const { rows: fileRows } = await readParquet(path.join(root, decodeDeltaPath(add.path)));
    for (const row of fileRows) rows.push({ ...Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])), ...add.partitionValues });
  }
  return rows;
}

export function sortRows<T extends Record<string, unknown>>(rows: T[]): T[] {
  const canonical = (row: T) => JSON.stringify(Object.keys(row).sort().map((key) => [key, row[key]]));
  return [...rows].sort((a, b) => canonical(a).localeCompare(canonical(b)));
}

/** The actions of one commit file, checked to be JSON lines each holding exactly one action. */
export function commitActions(text: string): Action[] {
  if (!text.endsWith('\n')) throw new Error('commit does not end with a newline');
  return text.trimEnd().split('\n').map((line) => {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (Object.keys(parsed).length !== 1) throw new Error(`line holds ${Object.keys(parsed).length} actions: ${line}`);
    return parsed as Action;
  });
}
