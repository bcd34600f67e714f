import { stat } from 'node:fs/promises';
import path from 'node:path';
import { declaredColumns, lastRunOf, writtenAt, type DatasetLocation, type LastRun } from './catalog.js';
import type { Engine } from './engine.js';
import { pinFiles, type PinnedTable } from './pinned-files.js';
import type { ServedColumn } from './rows-query.js';

export interface DatasetDescription {
  id: string;
  source: string;
  name: string;
  kind: DatasetLocation['kind'];
  columns: Array<ServedColumn & { nullable: boolean }>;
  rows: number;
  /** Relative to the data dir. */
  files: Array<{ path: string; bytes: number }>;
  /** A Delta table's version read and its partition columns (their values come from the log). */
  delta?: { version: number; partition_columns: string[] };
  last_run: LastRun | null;
  /** When the data was written, and how long ago (freshness), in seconds. */
  written_at: string;
  age_seconds: number;
}

interface Shape {
  columns: DatasetDescription['columns'];
  rows: number;
  files: DatasetDescription['files'];
}

/** Schema and row count by file version: read once per version of the data, not per request. */
const shapes = new Map<string, Shape>();

/** Columns (types from the file, descriptions from the declaration), rows, files, the last run and freshness. */
export async function describeDataset(engine: Engine, dataDir: string, location: DatasetLocation): Promise<DatasetDescription> {
  const pinned = await pinFiles(location);
  try {
    const shape = await shapeOf(engine, dataDir, location, pinned);
    const written = await writtenAt(location);
    return {
      id: `${location.source}/${location.name}`,
      source: location.source,
      name: location.name,
      kind: location.kind,
      ...shape,
      ...(pinned.delta ? { delta: { version: pinned.delta.version, partition_columns: pinned.delta.partitionColumns } } : {}),
      last_run: await lastRunOf(dataDir, location),
      written_at: written.toISOString(),
      age_seconds: Math.max(0, Math.round((Date.now() - written.getTime()) / 1000)),
    };
  } finally {
    await pinned.release();
  }
}

/** The columns only, for a rows request (cached the same way). */
export async function columnsOf(engine: Engine, dataDir: string, location: DatasetLocation, pinned: PinnedTable): Promise<ServedColumn[]> {
  return (await shapeOf(engine, dataDir, location, pinned)).columns;
}

async function shapeOf(engine: Engine, dataDir: string, location: DatasetLocation, pinned: PinnedTable): Promise<Shape> {
  const key = `${location.path}\0${pinned.version}`;
  const cached = shapes.get(key);
  if (cached) return cached;
  const declared = declaredColumns(location.source, location.name);
  const shape = await engine.withConnection(async (connection) => {
    const params: string[] = [];
    const from = pinned.from((value) => `$${params.push(value)}`);
    const described = (await connection.runAndReadAll(`DESCRIBE SELECT * EXCLUDE (file_row_number) FROM ${from}`, params)).getRowObjectsJson();
    const counted = (await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${from}`, params)).getRowObjectsJson();
    return {
      columns: described.map((row) => {
        const name = String(row.column_name);
        const declaration = declared.get(name);
        return { name, type: String(row.column_type), nullable: declaration?.nullable ?? row.null !== 'NO', ...(declaration?.description ? { description: declaration.description } : {}) };
      }),
      rows: Number(counted[0]?.n ?? 0),
    };
  });
  const files = await Promise.all(pinned.files.map(async (file) => ({ path: path.relative(dataDir, file), bytes: (await stat(file).catch(() => ({ size: 0 }))).size })));
  const result = { ...shape, files };
  for (const old of shapes.keys()) if (old.startsWith(`${location.path}\0`)) shapes.delete(old);
  shapes.set(key, result);
  return result;
}
