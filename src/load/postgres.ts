import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from 'pg';
import { connectBesideDuckDb, streamQueryAsCsv } from '../core/csv-pipe.js';
import type { DuckDbStatements } from '../core/duckdb.js';
import { ConfigError, DataError, LoadError, errorMessage, isEtlError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { connectPostgres, describeServerError, displayUrl, isConnectionLost, qualified, quoteIdent, quoteLiteral, type TableName } from '../core/postgres.js';
import type { PostgresTarget } from './postgres-target.js';
import { VERSION } from '../version.js';
import { parsePartitionFolderName } from '../transform/parquet/hive-partition.js';
import { hashLocalFile, listInputFiles } from './input-files.js';
import type { FileAction, FileOutcome, LoadSummary } from './load-files.js';

/**
 * Parquet into a Postgres table, through COPY. Everything one load does happens in one transaction, under an
 * advisory lock on the table, and ends with a row in `<schema>._etl_loads` (file, sha256, mode): a dropped
 * connection leaves nothing committed, two loads of one table take turns, and a re-run that would send the
 * same file again sends nothing.
 */
export interface PostgresLoadRequest {
  inputs: readonly string[];
  target: PostgresTarget;
  dryRun: boolean;
  force: boolean;
  log: Logger;
}

interface FileColumn {
  name: string;
  duckType: string;
  pgType: string;
}

interface PartitionManifest {
  partition_by: string;
  files: Array<{ path: string; rows: number; sha256: string }>;
}

const LOADS_TABLE = '_etl_loads';

export function targetUri(target: PostgresTarget, partition?: string): string {
  return `${displayUrl(target.url)}/${target.table.schema}.${target.table.table}${partition === undefined ? '' : `[${partition}]`}`;
}

export async function loadToPostgres(request: PostgresLoadRequest): Promise<LoadSummary> {
  const started = performance.now();
  const { target, log } = request;
  const destination = targetUri(target);
  const partitioned = await partitionedInput(request.inputs);
  const files = partitioned ? [] : await listInputFiles(request.inputs);
  if (!partitioned && files.length !== 1) {
    throw new ConfigError(`a table is loaded from one parquet file (or one --partition-by folder); got ${files.length} files in ${request.inputs.join(', ')}`, { hint: 'load each file into its own table, or point at a partitioned folder with its _manifest.json' });
  }
  const outcomes: FileOutcome[] = [];
  if (request.dryRun) {
    const planned = partitioned ? partitioned.manifest.files.map((file) => ({ path: path.join(partitioned.dir, file.path), partition: partitionOf(file.path) })) : [{ path: files[0]!.path, partition: undefined }];
    for (const file of planned) outcomes.push({ path: file.path, key: target.table.table, uri: targetUri(target, file.partition), action: 'would-upload', reason: `not compared: a dry run sends no request to ${displayUrl(target.url)}`, bytes: (await stat(file.path)).size });
    return summarise(destination, true, outcomes, started);
  }
  const [client, duck] = await connectBesideDuckDb(connectPostgres(target.url, 'load', `etl ${VERSION} load`), (c) => c.end());
  const progress = log.progress(`loading into ${destination}`);
  try {
    if (partitioned) outcomes.push(...(await loadPartitions(client, duck, partitioned.dir, partitioned.manifest, request)));
    else outcomes.push(await loadFile(client, duck, files[0]!.path, request));
    progress.done(`${destination}: ${outcomes.filter((o) => o.action === 'uploaded').length} loaded, ${outcomes.filter((o) => o.action === 'skipped').length} unchanged`);
  } catch (error) {
    progress.fail(`${destination}: nothing committed`);
    await client.query('ROLLBACK').catch(() => undefined);
    throw describeLoadError(error, target);
  } finally {
    duck.close();
    await client.end().catch(() => undefined);
  }
  return summarise(destination, false, outcomes, started);
}

function summarise(destination: string, dryRun: boolean, files: FileOutcome[], started: number): LoadSummary {
  const count = (...actions: FileAction[]): number => files.filter((file) => actions.includes(file.action)).length;
  return {
    destination,
    dryRun,
    files,
    uploaded: count('uploaded', 'would-upload'),
    skipped: count('skipped', 'would-skip'),
    failed: 0,
    bytesUploaded: files.reduce((sum, file) => sum + (file.action === 'uploaded' ? file.bytes : 0), 0),
    seconds: (performance.now() - started) / 1000,
  };
}

/** A folder written by `--partition-by`: its `_manifest.json` lists the partitions, their sha256 and the schema. */
async function partitionedInput(inputs: readonly string[]): Promise<{ dir: string; manifest: PartitionManifest } | undefined> {
  if (inputs.length !== 1) return undefined;
  const info = await stat(inputs[0]!).catch(() => null);
  if (!info?.isDirectory()) return undefined;
  const text = await readFile(path.join(inputs[0]!, '_manifest.json'), 'utf8').catch(() => null);
  if (text === null) return undefined;
  const manifest = JSON.parse(text) as PartitionManifest;
  for (const file of manifest.files) {
    const resolved = path.resolve(inputs[0]!, file.path);
    if (!resolved.startsWith(path.resolve(inputs[0]!) + path.sep)) throw new DataError(`${inputs[0]}/_manifest.json names a file outside its folder: ${file.path}`);
  }
  return { dir: inputs[0]!, manifest };
}

/** `edition=2019/part-0.parquet` -> `edition=2019`: the folder name as written (escaped), which tells partitions apart. */
function partitionOf(relativePath: string): string {
  return relativePath.split('/')[0]!;
}

/** The partition's value, read back through the one escaping rule (a null and the string `__HIVE_DEFAULT_PARTITION__` stay apart). */
function partitionValue(partition: string, column: string, manifestFile: string): string | null {
  const parsed = parsePartitionFolderName(partition);
  if (!parsed || parsed.column !== column) throw new DataError(`${manifestFile} names a folder ${JSON.stringify(partition)} that is not a ${column}= partition`, { hint: 'run the transform again: the folder was changed after it was written' });
  return parsed.value;
}

/** One transaction: lock, decide, create or evolve, COPY, verify, record, commit. */
async function loadFile(client: Client, duck: DuckConnection, file: string, request: PostgresLoadRequest): Promise<FileOutcome> {
  const { target, log } = request;
  const local = await hashLocalFile(file);
  const uri = targetUri(target);
  const outcome = (action: FileAction, reason: string): FileOutcome => ({ path: file, key: target.table.table, uri, action, reason, bytes: action === 'uploaded' ? local.size : 0 });
  const columns = await fileColumns(duck, `read_parquet(${sqlString(file)})`, file);
  const select = `SELECT ${columns.map((c) => selectExpression(c)).join(', ')} FROM read_parquet(${sqlString(file)})`;
  const expectedRows = await countRows(duck, file);

  await begin(client, target.table);
  const existing = await tableColumns(client, target.table);
  if (!request.force) {
    const why = await alreadyLoaded(client, target, local.sha256, existing !== null);
    if (why) {
      await client.query('ROLLBACK');
      log.info(`skipped ${file}: ${why}`);
      return outcome('skipped', why);
    }
  }
  const table = qualified(target.table);
  let copied: number;
  if (target.mode === 'replace') {
    const staging: TableName = { schema: target.table.schema, table: `_etl_new_${target.table.table}`.slice(0, 63) };
    await client.query(`DROP TABLE IF EXISTS ${qualified(staging)}`);
    if (existing) {
      await client.query(`CREATE TABLE ${qualified(staging)} (LIKE ${table} INCLUDING ALL)`);
      await evolveTable(client, staging, target.table, existing, columns, file);
    } else {
      await createTable(client, staging, columns);
    }
    copied = await copyInto(client, duck, staging, columns, select);
    await checkCount(copied, expectedRows, file);
    await swapIn(client, staging, target.table, existing !== null);
  } else {
    if (existing) await evolveTable(client, target.table, target.table, existing, columns, file);
    else await createTable(client, target.table, columns);
    if (target.mode === 'append') {
      copied = await copyInto(client, duck, target.table, columns, select);
    } else {
      copied = await mergeInto(client, duck, target, columns, select, file);
    }
    await checkCount(copied, expectedRows, file);
  }
  await recordLoad(client, target, { file, sha256: local.sha256, rows: copied, bytes: local.size, partition: null });
  await client.query('COMMIT');
  const reason = request.force ? '--force' : existing ? 'content changed' : 'new table';
  log.info(`loaded ${file} -> ${uri} (${copied} rows, ${target.mode}, verified by row count)`);
  return { ...outcome('uploaded', reason), receipt: { method: 'copy', parts: 1, verifiedWith: `row count (${copied})` } };
}

/** With --partition-by: only partitions whose sha256 changed since the last load are replaced; removed ones are deleted. */
async function loadPartitions(client: Client, duck: DuckConnection, dir: string, manifest: PartitionManifest, request: PostgresLoadRequest): Promise<FileOutcome[]> {
  const { target, log } = request;
  if (target.mode !== 'replace') throw new ConfigError(`a partitioned folder is loaded with --mode replace (partition by partition), not ${target.mode}`);
  const column = manifest.partition_by;
  // The partition column lives in the folder names only: DuckDB's hive reading gives it back, typed.
  const columns = await fileColumns(duck, `read_parquet(${sqlString(path.join(dir, '*', '*.parquet'))}, hive_partitioning = true)`, dir);
  const partitionType = columns.find((c) => c.name === column)?.duckType ?? 'VARCHAR';
  await begin(client, target.table);
  const existing = await tableColumns(client, target.table);
  if (existing) await evolveTable(client, target.table, target.table, existing, columns, dir);
  else await createTable(client, target.table, columns);
  await ensureLoadsTable(client, target.table.schema);
  const loads = qualified({ schema: target.table.schema, table: LOADS_TABLE });
  const previous = new Map<string, string>();
  const recorded = await client.query<{ partition: string; sha256: string }>(
    `SELECT DISTINCT ON (partition) partition, sha256 FROM ${loads} WHERE table_name = $1 AND partition IS NOT NULL ORDER BY partition, loaded_at DESC, id DESC`,
    [target.table.table],
  );
  for (const row of recorded.rows) if (row.sha256 !== '') previous.set(row.partition, row.sha256);
  const outcomes: FileOutcome[] = [];
  const where = (value: string | null): string => `${quoteIdent(column)} IS NOT DISTINCT FROM ${value === null ? 'NULL' : `CAST(${quoteLiteral(value)} AS ${pgTypeOf(partitionType)})`}`;
  for (const entry of manifest.files) {
    const file = path.join(dir, entry.path);
    const partition = partitionOf(entry.path);
    const value = partitionValue(partition, column, `${dir}/_manifest.json`);
    const uri = targetUri(target, partition);
    if (!request.force && previous.get(partition) === entry.sha256 && existing) {
      outcomes.push({ path: file, key: target.table.table, uri, action: 'skipped', reason: 'same sha256 as the last load of this partition', bytes: 0 });
      continue;
    }
    const local = await hashLocalFile(file);
    if (local.sha256 !== entry.sha256) throw new DataError(`${file} does not match its sha256 in ${dir}/_manifest.json`, { hint: 'run the transform again: the folder was changed after it was written' });
    const fileColumnsHere = columns.filter((c) => c.name !== column);
    const select = `SELECT ${fileColumnsHere.map((c) => selectExpression(c)).join(', ')}, ${value === null ? 'NULL' : `CAST(${sqlString(value)} AS ${partitionType})`} AS ${quoteIdent(column)} FROM read_parquet(${sqlString(file)})`;
    const deleted = await client.query(`DELETE FROM ${qualified(target.table)} WHERE ${where(value)}`);
    const copied = await copyInto(client, duck, target.table, [...fileColumnsHere, columns.find((c) => c.name === column)!], select);
    await checkCount(copied, entry.rows, file);
    await recordLoad(client, target, { file, sha256: entry.sha256, rows: copied, bytes: local.size, partition });
    log.info(`loaded ${file} -> ${uri} (${copied} rows replaced ${deleted.rowCount ?? 0})`);
    outcomes.push({ path: file, key: target.table.table, uri, action: 'uploaded', reason: previous.has(partition) ? 'partition changed' : 'new partition', bytes: local.size, receipt: { method: 'copy', parts: 1, verifiedWith: `row count (${copied})` } });
  }
  const kept = new Set(manifest.files.map((f) => partitionOf(f.path)));
  for (const partition of previous.keys()) {
    if (kept.has(partition)) continue;
    const removed = await client.query(`DELETE FROM ${qualified(target.table)} WHERE ${where(partitionValue(partition, column, `${target.table.schema}._etl_loads`))}`);
    await recordLoad(client, target, { file: '', sha256: '', rows: 0, bytes: 0, partition });
    log.info(`removed partition ${partition} from ${targetUri(target)} (${removed.rowCount ?? 0} rows): it is no longer in ${dir}`);
  }
  await client.query('COMMIT');
  return outcomes;
}

type DuckConnection = DuckDbStatements;

/** BEGIN, then wait for any other etl load of the same table to finish (the lock ends with the transaction). */
async function begin(client: Client, table: TableName): Promise<void> {
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`etl load ${table.schema}.${table.table}`]);
}

/** The columns of `source` (a read_parquet(…) of `what`, a file or a partitioned folder), as DuckDB reads them. */
async function fileColumns(duck: DuckConnection, source: string, what: string): Promise<FileColumn[]> {
  const described = await duck.readText(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${source})`).catch((error: unknown) => {
    // DuckDB appends the SQL it ran, with a caret, on further lines: the first line is the reason.
    throw new DataError(`${what}: cannot read it as parquet (${errorMessage(error).split('\n')[0]!.trim()})`, { hint: 'is it a parquet file? `etl inspect` shows what a file holds', cause: error });
  });
  return described.map(([name, duckType]) => ({ name: name!, duckType: duckType!, pgType: pgTypeOf(duckType!) }));
}

async function countRows(duck: DuckConnection, file: string): Promise<number> {
  const rows = await duck.readText(`SELECT count(*)::VARCHAR FROM read_parquet(${sqlString(file)})`);
  return Number(rows[0]![0]);
}

/** The Postgres column type for a parquet column (as DuckDB names it): DATE, INT4/INT8, DOUBLE PRECISION, BOOLEAN, TEXT, TIMESTAMPTZ. */
export function pgTypeOf(duckType: string): string {
  const type = duckType.toUpperCase();
  if (type === 'BOOLEAN') return 'boolean';
  if (['TINYINT', 'SMALLINT', 'INTEGER', 'UTINYINT', 'USMALLINT'].includes(type)) return 'integer';
  if (['BIGINT', 'UINTEGER'].includes(type)) return 'bigint';
  if (['UBIGINT', 'HUGEINT', 'UHUGEINT'].includes(type)) return 'numeric';
  if (type === 'FLOAT' || type === 'DOUBLE') return 'double precision';
  if (type.startsWith('DECIMAL')) return type.replace('DECIMAL', 'numeric');
  if (type === 'DATE') return 'date';
  if (type.startsWith('TIMESTAMP')) return 'timestamp with time zone';
  return 'text';
}

/** Every column as DuckDB writes it to CSV in a form Postgres reads back as the same value. */
function selectExpression(column: FileColumn): string {
  const name = quoteIdent(column.name);
  if (column.pgType === 'text' && column.duckType.toUpperCase() !== 'VARCHAR') return `CAST(${name} AS VARCHAR) AS ${name}`;
  return name;
}

/** Columns of a table as format_type() names them; null when there is no such table. */
async function tableColumns(client: Client, table: TableName): Promise<Map<string, string> | null> {
  const result = await client.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table.schema, table.table],
  );
  if (result.rows.length === 0) {
    const exists = await client.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [table.schema, table.table]);
    if (exists.rows.length > 0) throw new ConfigError(`${table.schema}.${table.table} exists but is not a table (a view?)`, { hint: 'load into a table; a view over it can stay' });
    return null;
  }
  return new Map(result.rows.map((row) => [row.name, row.type]));
}

async function createTable(client: Client, table: TableName, columns: readonly FileColumn[]): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`);
  await client.query(`CREATE TABLE ${qualified(table)} (${columns.map((c) => `${quoteIdent(c.name)} ${c.pgType}`).join(', ')})`);
}

/** Same family: a value that does not fit fails on its own row, with its row number. */
function typeFamily(pgType: string): string {
  if (/^(smallint|integer|bigint)$/.test(pgType)) return 'integer';
  if (/^(real|double precision|numeric)/.test(pgType)) return 'number';
  if (/^(text|character)/.test(pgType)) return 'text';
  if (/^timestamp/.test(pgType)) return 'timestamp';
  return pgType;
}

function fits(fileType: string, tableType: string): boolean {
  const [file, table] = [typeFamily(fileType), typeFamily(tableType)];
  return file === table || (file === 'integer' && table === 'number');
}

/** Adds the file's new columns to `table`; a column whose type changed is an error naming it, both types. */
async function evolveTable(client: Client, table: TableName, target: TableName, existing: Map<string, string>, columns: readonly FileColumn[], file: string): Promise<void> {
  for (const column of columns) {
    const current = existing.get(column.name);
    if (current === undefined) continue;
    if (!fits(column.pgType, current)) {
      throw new DataError(`${target.schema}.${target.table}: column ${column.name} is ${current} in the table but ${column.pgType} in ${path.basename(file)}; etl does not change a column's type`, {
        hint: `change it yourself (ALTER TABLE ${target.schema}.${target.table} ALTER COLUMN ${column.name} TYPE ${column.pgType} USING …), or load into another --table`,
      });
    }
  }
  for (const column of columns) {
    if (existing.has(column.name)) continue;
    await client.query(`ALTER TABLE ${qualified(table)} ADD COLUMN ${quoteIdent(column.name)} ${column.pgType}`);
  }
}

async function copyInto(client: Client, duck: DuckConnection, table: TableName, columns: readonly FileColumn[], select: string): Promise<number> {
  const { from } = await import('pg-copy-streams');
  const copy = client.query(from(`COPY ${qualified(table)} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) FROM STDIN (FORMAT csv)`));
  await streamQueryAsCsv(duck, select, copy);
  return copy.rowCount;
}

async function checkCount(copied: number, expected: number, file: string): Promise<void> {
  if (copied !== expected) throw new LoadError(`${file}: the server took ${copied} rows, the file holds ${expected}; nothing was committed`, { hint: 'run again; if it repeats, report it with --debug' });
}

/** The staging table takes the old one's name and grants in the same transaction: readers see the old rows or the new ones. */
async function swapIn(client: Client, staging: TableName, target: TableName, replacing: boolean): Promise<void> {
  if (replacing) {
    const grants = await client.query<{ statement: string }>(
      `SELECT format('GRANT %s ON %s TO %s', a.privilege_type, $2::text, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END) AS statement
       FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = $1::regclass AND a.grantee <> c.relowner`,
      [qualified(target), qualified(staging)],
    );
    for (const { statement } of grants.rows) await client.query(statement);
    const old: TableName = { schema: target.schema, table: `_etl_old_${target.table}`.slice(0, 63) };
    await client.query(`ALTER TABLE ${qualified(target)} RENAME TO ${quoteIdent(old.table)}`);
    await client.query(`ALTER TABLE ${qualified(staging)} RENAME TO ${quoteIdent(target.table)}`);
    await client.query(`DROP TABLE ${qualified(old)}`);
  } else {
    await client.query(`ALTER TABLE ${qualified(staging)} RENAME TO ${quoteIdent(target.table)}`);
  }
}

/** Staging table, a duplicate key refused by name, then INSERT … ON CONFLICT DO UPDATE of the rows that differ. */
async function mergeInto(client: Client, duck: DuckConnection, target: PostgresTarget, columns: readonly FileColumn[], select: string, file: string): Promise<number> {
  const table = qualified(target.table);
  const key = target.key ?? (await uniqueKeyOf(client, target.table));
  if (!key) throw new ConfigError(`--mode merge needs --key: ${target.table.schema}.${target.table.table} has no primary key`, { hint: 'e.g. --key edition,period,geo_code' });
  const names = new Set(columns.map((c) => c.name));
  const missing = key.filter((column) => !names.has(column));
  if (missing.length > 0) throw new ConfigError(`--key ${key.join(',')}: ${path.basename(file)} has no column ${missing.join(', ')}`, { hint: `its columns: ${[...names].join(', ')}` });
  await ensureUniqueIndex(client, target.table, key);
  const staging: TableName = { schema: 'pg_temp', table: '_etl_merge' };
  await client.query(`CREATE TEMP TABLE _etl_merge (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
  const copied = await copyInto(client, duck, staging, columns, select);
  const keyList = key.map(quoteIdent).join(', ');
  const duplicate = await client.query(`SELECT ${keyList}, count(*) AS times FROM pg_temp._etl_merge GROUP BY ${keyList} HAVING count(*) > 1 ORDER BY count(*) DESC, ${keyList} LIMIT 1`);
  if (duplicate.rows.length > 0) {
    const row = duplicate.rows[0] as Record<string, unknown>;
    const values = key.map((column) => (row[column] === null ? 'null' : row[column] instanceof Date ? (row[column] as Date).toISOString() : String(row[column])));
    throw new DataError(`${path.basename(file)}: the key (${key.join(', ')}) = (${values.join(', ')}) appears ${String(row.times)} times; a merge takes each key once`, { hint: 'fix the data, or merge on a --key that names a row uniquely' });
  }
  const list = columns.map((c) => quoteIdent(c.name)).join(', ');
  const others = columns.filter((c) => !key.includes(c.name)).map((c) => quoteIdent(c.name));
  const onConflict = others.length === 0
    ? 'DO NOTHING'
    : `DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')} WHERE (${others.map((c) => `${table}.${c}`).join(', ')}) IS DISTINCT FROM (${others.map((c) => `EXCLUDED.${c}`).join(', ')})`;
  await client.query(`INSERT INTO ${table} (${list}) SELECT ${list} FROM pg_temp._etl_merge ON CONFLICT (${keyList}) ${onConflict}`);
  return copied;
}

/** The columns of the primary key, else of a unique index; undefined when there is neither. */
async function uniqueKeyOf(client: Client, table: TableName): Promise<string[] | undefined> {
  const result = await client.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname ORDER BY k.ord) AS columns FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = $1::regclass AND i.indisunique
     GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC LIMIT 1`,
    [qualified(table)],
  );
  return result.rows[0]?.columns;
}

/** ON CONFLICT needs a unique index on exactly the key; NULLS NOT DISTINCT (Postgres 15+) makes a null key part match itself. */
async function ensureUniqueIndex(client: Client, table: TableName, key: readonly string[]): Promise<void> {
  const found = await client.query(
    `SELECT 1 FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
       AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = $2::text[]
       AND cardinality(i.indkey) = $3`,
    [qualified(table), [...key].sort(), key.length],
  );
  if (found.rows.length > 0) return;
  const version = Number((await client.query<{ server_version_num: string }>('SHOW server_version_num')).rows[0]?.server_version_num ?? 0);
  const nullsNotDistinct = version >= 150000 ? ' NULLS NOT DISTINCT' : '';
  const name = `${table.table}_etl_key`.slice(0, 63);
  try {
    await client.query('SAVEPOINT etl_index');
    await client.query(`CREATE UNIQUE INDEX ${quoteIdent(name)} ON ${qualified(table)} (${key.map(quoteIdent).join(', ')})${nullsNotDistinct}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    throw new DataError(`${table.schema}.${table.table} already holds rows with the same (${key.join(', ')}): a merge on that key cannot tell them apart`, { hint: 'remove the duplicates, or merge on a --key that names a row uniquely', cause: error });
  }
}

async function ensureLoadsTable(client: Client, schema: string): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${qualified({ schema, table: LOADS_TABLE })} (
    id bigserial PRIMARY KEY, table_name text NOT NULL, partition text, mode text NOT NULL, merge_key text, file text NOT NULL,
    sha256 text NOT NULL, rows bigint NOT NULL, bytes bigint NOT NULL, etl_version text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())`);
}

/** Why this file need not be sent again, or null. */
async function alreadyLoaded(client: Client, target: PostgresTarget, sha256: string, tableExists: boolean): Promise<string | null> {
  if (!tableExists) return null;
  const loads = qualified({ schema: target.table.schema, table: LOADS_TABLE });
  const present = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [loads]);
  if (!(present.rows[0] as { present: boolean }).present) return null;
  if (target.mode === 'append') {
    const seen = await client.query(`SELECT 1 FROM ${loads} WHERE table_name = $1 AND partition IS NULL AND mode = 'append' AND sha256 = $2 LIMIT 1`, [target.table.table, sha256]);
    return seen.rows.length > 0 ? 'this file (same sha256) was appended before' : null;
  }
  const last = await client.query<{ sha256: string; mode: string; merge_key: string | null }>(`SELECT sha256, mode, merge_key FROM ${loads} WHERE table_name = $1 AND partition IS NULL ORDER BY loaded_at DESC, id DESC LIMIT 1`, [target.table.table]);
  const row = last.rows[0];
  const sameKey = (row?.merge_key ?? null) === (target.key?.join(',') ?? null);
  return row && row.sha256 === sha256 && row.mode === target.mode && sameKey ? `same sha256 as the last ${target.mode} into this table` : null;
}

async function recordLoad(client: Client, target: PostgresTarget, load: { file: string; sha256: string; rows: number; bytes: number; partition: string | null }): Promise<void> {
  await ensureLoadsTable(client, target.table.schema);
  await client.query(
    `INSERT INTO ${qualified({ schema: target.table.schema, table: LOADS_TABLE })} (table_name, partition, mode, merge_key, file, sha256, rows, bytes, etl_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [target.table.table, load.partition, load.partition !== null && load.sha256 === '' ? 'removed' : target.mode, target.key?.join(',') ?? null, load.file, load.sha256, load.rows, load.bytes, VERSION],
  );
}

/** Server errors in etl's family: a value that does not fit names table, column and row; a lost connection may pass next time. */
function describeLoadError(error: unknown, target: PostgresTarget): unknown {
  if (isEtlError(error)) return error;
  const name = `${target.table.schema}.${target.table.table}`;
  const code = (error as { code?: string }).code ?? '';
  if (/^(22|23502)/.test(code)) {
    const where = /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec((error as { where?: string }).where ?? '');
    const at = where ? `, row ${where[1]}${where[2] ? `, column ${where[2]}` : ''}` : '';
    return new DataError(`${name}${at}: ${errorMessage(error)}`, { hint: 'the file holds a value the column cannot take: fix the data or widen the column (nothing was committed)', cause: error });
  }
  if (code === '2BP01') return new LoadError(`${name}: other objects depend on it (${describeServerError(error)}), so replace cannot swap it`, { hint: 'use --mode merge or append for a table that views depend on', cause: error });
  if (code === '42501') return new LoadError(`${name}: permission denied (${errorMessage(error)})`, { hint: 'grant the user CREATE on the schema and ownership of the table', cause: error });
  if (isConnectionLost(error)) return new LoadError(`${name}: the connection was lost during the load (${errorMessage(error)}); nothing was committed`, { hint: 'run again: the load starts over', cause: error });
  if (code) return new LoadError(`${name}: ${describeServerError(error)}`, { cause: error });
  return error;
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

