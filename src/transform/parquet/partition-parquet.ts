import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { isTempFile, tempPathFor, trackTempFile, writeFileAtomic } from '../../core/atomic-file.js';
import { ConfigError } from '../../core/errors.js';
import type { Shard } from '../../core/source.js';

/** What `_manifest.json` lists: every partition file, its rows and sha256, and the table's schema. */
export interface PartitionManifest {
  partition_by: string;
  rows: number;
  files: Array<{ path: string; rows: number; bytes: number; sha256: string }>;
  schema: Array<{ name: string; type: string }>;
  written_at: string;
}

export interface PartitionedOutput {
  dir: string;
  manifest: PartitionManifest;
  /** Partition values whose file was (re)written; the others were identical and left untouched. */
  written: string[];
  removed: string[];
}

/** `_manifest.json`; a shard writes `_manifest.shard-<i>-of-<n>.json`, so shards sharing a bucket do not overwrite each other's. */
export function partitionManifestName(shard?: Shard): string {
  return shard ? `_manifest.shard-${shard.index}-of-${shard.count}.json` : '_manifest.json';
}
const PART_FILE = 'part-0.parquet';

/**
 * Splits one parquet file into a Hive-partitioned folder (`<dir>/<column>=<value>/part-0.parquet`) that
 * DuckDB, Spark and pandas read as one table. The partition column lives in the folder name only. Each
 * partition is written to a temp file and renamed over the old one, and only when its bytes differ, so a
 * reader never sees a half-written partition and an unchanged partition keeps its file (and mtime).
 * `_manifest.json` is written last.
 */
export async function partitionParquet(file: string, column: string, dir: string, shard?: Shard): Promise<PartitionedOutput> {
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '256MB' });
  const connection = await instance.connect();
  try {
    const source = `read_parquet(${sqlString(file)})`;
    const schema = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS().map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
    if (!schema.some((c) => c.name === column)) {
      throw new ConfigError(`--partition-by ${column}: the table has no such column`, { hint: `choose one of: ${schema.map((c) => c.name).join(', ')}` });
    }
    const quoted = `"${column.replace(/"/g, '""')}"`;
    const groups = (await connection.runAndReadAll(`SELECT CAST(${quoted} AS VARCHAR) AS value, count(*) AS rows FROM ${source} GROUP BY 1 ORDER BY 1`)).getRowObjectsJS();
    const files: PartitionManifest['files'] = [];
    const written: string[] = [];
    for (const group of groups) {
      const value = group.value === null ? '__HIVE_DEFAULT_PARTITION__' : String(group.value);
      const relative = `${column}=${encodeURIComponent(value)}/${PART_FILE}`;
      const destination = path.join(dir, relative);
      await mkdir(path.dirname(destination), { recursive: true });
      const temp = tempPathFor(destination);
      const untrack = trackTempFile(temp);
      try {
        const where = group.value === null ? `${quoted} IS NULL` : `CAST(${quoted} AS VARCHAR) = ${sqlString(value)}`;
        await connection.run(`COPY (SELECT * EXCLUDE (${quoted}) FROM ${source} WHERE ${where}) TO ${sqlString(temp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
        const [fresh, current] = await Promise.all([digest(temp), digest(destination).catch(() => null)]);
        if (fresh.sha256 !== current?.sha256) {
          await rename(temp, destination);
          written.push(value);
        }
        files.push({ path: relative, rows: Number(group.rows), ...fresh });
      } finally {
        await rm(temp, { force: true });
        untrack();
      }
    }
    const kept = new Set(files.map((f) => f.path.split('/')[0]));
    const removed: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      // A shard holds only its own partitions: the others' are not its to remove.
      if (!shard && entry.isDirectory() && entry.name.startsWith(`${column}=`) && !kept.has(entry.name)) {
        await rm(path.join(dir, entry.name), { recursive: true, force: true });
        removed.push(decodeURIComponent(entry.name.slice(column.length + 1)));
      } else if (isTempFile(entry.name)) {
        await rm(path.join(dir, entry.name), { recursive: true, force: true });
      }
    }
    const manifest: PartitionManifest = {
      partition_by: column,
      rows: files.reduce((sum, f) => sum + f.rows, 0),
      files,
      schema: schema.filter((c) => c.name !== column),
      written_at: new Date().toISOString(),
    };
    await writeFileAtomic(path.join(dir, partitionManifestName(shard)), JSON.stringify(manifest, null, 2) + '\n');
    return { dir, manifest, written, removed };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function digest(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
