import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { isTempFile, tempPathFor, trackTempFile, writeFileAtomic } from '../../core/atomic-file.js';
import { loadDuckDb } from '../../core/duckdb.js';
import { ConfigError } from '../../core/errors.js';
import type { Shard } from '../../core/source.js';
import { quoteIdentifier } from './duckdb-sql.js';
import { escapePartitionValue, partitionFolderName, unescapePartitionValue } from './hive-partition.js';

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
  /** Partition values (null for the null partition) whose file was (re)written; the others were identical and left untouched. */
  written: Array<string | null>;
  removed: Array<string | null>;
}

/** `_manifest.json`; a shard writes `_manifest.shard-<i>-of-<n>.json`, so shards sharing a bucket do not overwrite each other's. */
export function partitionManifestName(shard?: Shard): string {
  return shard ? `_manifest.shard-${shard.index}-of-${shard.count}.json` : '_manifest.json';
}
const PART_FILE = 'part-0.parquet';

/**
 * Splits one parquet file into a Hive-partitioned folder (`<dir>/<column>=<value>/part-0.parquet`) that
 * DuckDB, Spark and pandas read as one table; folder names are escaped by partitionFolderName (distinct
 * values, distinct folders; every value reads back exactly). The partition column lives in the folder
 * name only. Every folder name is checked before anything is written; then every partition is written to
 * a temp file in its folder, and only when all were written are they renamed over the old ones (those
 * whose bytes differ: an unchanged partition keeps its file and mtime). So a failure part-way (a value too
 * long for a folder name, a full disk) leaves the folder as it was. `_manifest.json` is written last.
 * Values reach DuckDB as bound parameters, never pasted into SQL.
 */
export async function partitionParquet(file: string, column: string, dir: string, shard?: Shard): Promise<PartitionedOutput> {
  const duck = loadDuckDb();
  const instance = await duck.DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '256MB' });
  const connection = await instance.connect();
  const staged: Array<{ temp: string; destination: string; untrack: () => void }> = [];
  const created: string[] = [];
  try {
    const schema = (await connection.runAndReadAll('DESCRIBE SELECT * FROM read_parquet($1)', [file])).getRowObjectsJS().map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
    if (!schema.some((c) => c.name === column)) {
      throw new ConfigError(`--partition-by ${column}: the table has no such column`, { hint: `choose one of: ${schema.map((c) => c.name).join(', ')}` });
    }
    const quoted = quoteIdentifier(column);
    const groups = (await connection.runAndReadAll(`SELECT CAST(${quoted} AS VARCHAR) AS value, count(*) AS rows FROM read_parquet($1) GROUP BY 1 ORDER BY 1`, [file])).getRowObjectsJS();
    // Every name first: a value no folder can be named after stops the run before anything is written.
    const partitions = groups.map((group) => {
      const value = group.value === null ? null : String(group.value);
      const folder = partitionFolderName(column, value);
      return { value, rows: Number(group.rows), folder, relative: `${folder}/${PART_FILE}`, destination: path.join(dir, folder, PART_FILE) };
    });
    const files: PartitionManifest['files'] = [];
    for (const partition of partitions) {
      const folder = path.dirname(partition.destination);
      if (await mkdir(folder, { recursive: true })) created.push(folder);
      const temp = tempPathFor(partition.destination);
      staged.push({ temp, destination: partition.destination, untrack: trackTempFile(temp) });
      // IS NOT DISTINCT FROM: a bound null picks the null rows, a bound text the rows whose text it is.
      const copy = `COPY (SELECT * EXCLUDE (${quoted}) FROM read_parquet($1) WHERE CAST(${quoted} AS VARCHAR) IS NOT DISTINCT FROM $2::VARCHAR) TO $3 (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`;
      await connection.run(copy, [file, partition.value, temp]);
      files.push({ path: partition.relative, rows: partition.rows, ...(await digest(temp)) });
    }
    const written: Array<string | null> = [];
    for (const [index, partition] of partitions.entries()) {
      const current = await digest(partition.destination).catch(() => null);
      if (current?.sha256 === files[index]!.sha256) continue;
      await rename(staged[index]!.temp, partition.destination);
      written.push(partition.value);
    }
    created.length = 0; // the folders are in use now
    const kept = new Set(partitions.map((p) => p.folder));
    const columnPrefix = `${escapePartitionValue(column)}=`;
    const removed: Array<string | null> = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      // A shard holds only its own partitions: the others' are not its to remove.
      if (!shard && entry.isDirectory() && entry.name.startsWith(columnPrefix) && !kept.has(entry.name)) {
        await rm(path.join(dir, entry.name), { recursive: true, force: true });
        removed.push(unescapePartitionValue(entry.name.slice(columnPrefix.length)));
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
    for (const { temp, untrack } of staged) {
      await rm(temp, { force: true });
      untrack();
    }
    // Folders made for partitions that never arrived (the run failed before the swap) go too.
    for (const folder of created.reverse()) await rmdir(folder).catch(() => undefined);
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
