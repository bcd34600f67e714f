import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from 'pg';
import type { z } from 'zod';
import { sweepDeadTempFiles, tempPathFor, trackTempFile, writeFileAtomic } from '../core/atomic-file.js';
import { CSV_LINE_BYTES, CsvLineTooLong, connectBesideDuckDb, writeCsvAsParquet } from '../core/csv-pipe.js';
import { loadDuckDb, openDuckDb } from '../core/duckdb.js';
import { ConfigError, DataError, SourceError, errorMessage, isEtlError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { checkPostgresUrl, connectPostgres, describeServerError, displayUrl, isConnectionLost, isPostgresUrl, parseTableName, qualified, quoteIdent, quoteLiteral, type TableName } from '../core/postgres.js';
import { rawDatasetDir } from '../core/raw-layer.js';
import { checkRecordedFile, resolveInside } from '../core/recorded-file.js';
import type { ExtractReport, ExtractRequest, Source, SourceIO, TransformRequest, Zod } from '../core/source.js';
import type { Column, ColumnType, Row, Table } from '../core/table.js';
import { LINEAGE_COLUMNS } from '../transform/json/json-table.js';
import { VERSION } from '../version.js';

/**
 * A Postgres table, copied into the raw layer as parquet chunks: the whole table the first time, then only rows
 * whose cursor column is past the last value seen (less --lag, for rows committed late). Each chunk is one
 * COPY (SELECT …) TO STDOUT (read by core/copy-out.ts) streamed through DuckDB into parquet, so memory stays flat; the cursor is saved (in
 * the table's manifest) only after its chunk is on disk. Transform stacks the chunks and keeps each primary key
 * once, at its newest version.
 */
const DURATION = /^(\d+)(s|m|h|d)$/;
const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

const extractOptions = (z: Zod) => z.object({
  url: z.string('expected --url postgres://user@host:5432/database').refine(isPostgresUrl, 'expected a postgres:// URL'),
  table: z.string('expected --table schema.table'),
  cursor: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a column name').optional(),
  lag: z.string().regex(DURATION, 'expected a duration such as 30s, 5m, 2h or 1d').default('0s'),
  full: z.boolean().default(false),
});
type PostgresExtractOptions = z.infer<ReturnType<typeof extractOptions>>;
const transformOptions = (z: Zod) => z.object({ table: z.string().optional() });
type PostgresTransformOptions = z.infer<ReturnType<typeof transformOptions>>;

interface SourceColumn {
  name: string;
  /** As format_type() names it, e.g. `timestamp with time zone`. */
  pgType: string;
  duckType: string;
}

interface Chunk {
  /** Relative to the table's raw folder. */
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
  extracted_at: string;
  kind: 'full' | 'incremental';
  /** The cursor value the chunk starts after (lag applied), null for a full read. */
  after: string | null;
}

interface TableManifest {
  source: 'postgres';
  table: string;
  url: string;
  cursor: string | null;
  /** The largest cursor value read so far (as the server writes it as text); the next run reads past it. */
  cursor_value: string | null;
  primary_key: string[];
  columns: SourceColumn[];
  updated_at: string;
  chunks: Chunk[];
}

const MANIFEST = 'manifest.json';
/** The longest row read (as CSV): DuckDB holds a buffer of this size, inside its 256 MB budget. */
const MAX_CSV_LINE_BYTES = 64 * 1024 * 1024;
const TIME_TYPES = /^(date|timestamp)/;
const ORDERED_TYPES = /^(smallint|integer|bigint|numeric|real|double precision|date|timestamp)/;

/** `public.orders`: the table's raw folder, its processed file and part of its pipeline's name. */
function tableFolderName(table: TableName): string {
  return `${table.schema}.${table.table}`;
}

function tableDir(dataDir: string, dataset: string, table: TableName): string {
  return path.join(rawDatasetDir(dataDir, 'postgres', dataset), tableFolderName(table));
}

/** The DuckDB type a column is read back as from COPY's CSV; anything without an exact match stays text. */
function duckTypeOf(pgType: string): string {
  if (pgType === 'smallint' || pgType === 'integer') return 'INTEGER';
  if (pgType === 'bigint') return 'BIGINT';
  if (pgType === 'real' || pgType === 'double precision') return 'DOUBLE';
  const decimal = /^numeric\((\d+),(\d+)\)$/.exec(pgType);
  if (decimal && Number(decimal[1]) <= 38) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  if (pgType === 'boolean') return 'BOOLEAN';
  if (pgType === 'date') return 'DATE';
  if (pgType === 'timestamp with time zone') return 'TIMESTAMPTZ';
  if (pgType.startsWith('timestamp')) return 'TIMESTAMP';
  return 'VARCHAR';
}

function columnTypeOf(duckType: string): ColumnType {
  if (duckType === 'INTEGER') return 'int32';
  if (duckType === 'BIGINT') return 'int64';
  if (duckType === 'DOUBLE' || duckType.startsWith('DECIMAL')) return 'double';
  if (duckType === 'BOOLEAN') return 'boolean';
  if (duckType === 'DATE') return 'date';
  if (duckType.startsWith('TIMESTAMP')) return 'timestamp';
  return 'string';
}

async function readColumns(client: Client, table: TableName): Promise<{ columns: SourceColumn[]; primaryKey: string[] }> {
  const columns = await client.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table.schema, table.table],
  );
  if (columns.rows.length === 0) throw new SourceError(`postgres: no table ${table.schema}.${table.table} (or no permission to see it)`, { hint: 'check --table (schema.table) and that the user may read it' });
  const key = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.ord`,
    [qualified(table)],
  );
  return { columns: columns.rows.map((row) => ({ name: row.name, pgType: row.type, duckType: duckTypeOf(row.type) })), primaryKey: key.rows.map((row) => row.name) };
}

async function readTableManifest(dir: string, log: Logger): Promise<TableManifest | null> {
  const text = await readFile(path.join(dir, MANIFEST), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const manifest = JSON.parse(text) as TableManifest;
    if (!Array.isArray(manifest.chunks)) throw new Error('no chunks list');
    return manifest;
  } catch (error) {
    log.warn(`${path.join(dir, MANIFEST)} is damaged (${errorMessage(error)}); the whole table is read again`);
    return null;
  }
}

async function extract(request: ExtractRequest<PostgresExtractOptions>, io: SourceIO): Promise<ExtractReport> {
  const { url, cursor, full } = request.options;
  checkPostgresUrl(url, '--url');
  const table = parseTableName(request.options.table);
  const lagSeconds = Number(DURATION.exec(request.options.lag)![1]) * SECONDS[DURATION.exec(request.options.lag)![2]!]!;
  const dir = tableDir(request.dataDir, request.dataset, table);
  const name = `${table.schema}.${table.table}`;
  const previous = await readTableManifest(dir, io.log);
  await removeUnlisted(dir, previous);
  const swept = await sweepDeadTempFiles(dir);
  if (swept.length > 0) io.log.info(`removed ${swept.length} temp file(s) an interrupted run left in ${dir}`);
  await mkdir(dir, { recursive: true });
  const [client, duck] = await connectBesideDuckDb(connectPostgres(url, 'source', `etl ${VERSION} extract`), (c) => c.end(), 2);
  const chunkName = `chunk-${io.now().toISOString().replace(/[-:.]/g, '')}.parquet`;
  const temp = tempPathFor(path.join(dir, chunkName));
  const untrack = trackTempFile(temp);
  try {
    const { columns, primaryKey } = await readColumns(client, table);
    const cursorColumn = cursor === undefined ? undefined : columns.find((c) => c.name === cursor);
    if (cursor !== undefined && !cursorColumn) throw new ConfigError(`--cursor ${cursor}: ${name} has no such column`, { hint: `its columns: ${columns.map((c) => c.name).join(', ')}` });
    if (cursorColumn && !ORDERED_TYPES.test(cursorColumn.pgType)) throw new ConfigError(`--cursor ${cursor}: a ${cursorColumn.pgType} column cannot order changes`, { hint: 'use a timestamp, date or integer column that grows with each change (updated_at, id)' });
    if (cursorColumn && lagSeconds > 0 && !TIME_TYPES.test(cursorColumn.pgType)) throw new ConfigError(`--lag applies to a time cursor; ${cursor} is ${cursorColumn.pgType}`, { hint: 'drop --lag' });
    const sameShape = previous !== null && previous.table === name && previous.cursor === (cursor ?? null) && JSON.stringify(previous.columns) === JSON.stringify(columns);
    if (previous && !sameShape && !full) io.log.info(`${name}: the table's columns or the cursor changed since the last extract; reading it whole`);
    const incremental = !full && sameShape && cursorColumn !== undefined && previous.cursor_value !== null;
    const after = incremental ? previous.cursor_value : null;
    const where = incremental ? `WHERE ${quoteIdent(cursorColumn.name)} > ${quoteLiteral(after!)}::${cursorColumn.pgType} - interval '${lagSeconds} seconds'` : '';
    const list = columns.map((c) => quoteIdent(c.name)).join(', ');
    const progress = io.log.progress(`${name}: ${incremental ? `rows with ${cursor} past ${after}${lagSeconds > 0 ? ` - ${request.options.lag}` : ''}` : 'the whole table'}`);
    const { copyOut } = await import('../core/copy-out.js');
    const readRows = async (lineBytes: number): Promise<{ rows: number; newest: string | null }> => {
      // One snapshot for the cursor's new value and the rows: nothing committed in between is counted but not read.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const newest = cursorColumn ? (await client.query<{ value: string | null }>(`SELECT max(${quoteIdent(cursorColumn.name)})::text AS value FROM ${qualified(table)} ${where}`)).rows[0]!.value : null;
      const copy = client.query(copyOut(`COPY (SELECT ${list} FROM ${qualified(table)} ${where}) TO STDOUT (FORMAT csv)`));
      const rows = await writeCsvAsParquet(duck, copy, columns, temp, lineBytes).catch((error: unknown) => {
        if (error instanceof CsvLineTooLong) return null;
        throw error;
      });
      if (rows === null || rows !== copy.rowCount) {
        // The rollback waits behind the rest of the rows, which the stream drains: by then it has seen every row's
        // length, and the next read is given room for the longest at once.
        await client.query('ROLLBACK');
        throw new CsvLineTooLong(lineBytes, copy.longestRowBytes);
      }
      await client.query('COMMIT');
      return { rows, newest };
    };
    const { rows, newest } = await readWithRoomForLongRows(`postgres ${name}`, readRows, (tooLong, next) => {
      io.log.info(`${name}: ${tooLong.message}; reading the rows again with room for ${next} bytes a row`);
    });
    const extractedAt = io.now().toISOString();
    const base = { source: 'postgres', dataset: request.dataset, url: displayUrl(url), rawDir: dir };
    if (rows === 0 && incremental) {
      progress.done(`${name}: no changes`);
      return { ...base, files: [{ file: path.join(dir, MANIFEST), url: base.url, status: 'unchanged', bytes: 0 }] };
    }
    await rename(temp, path.join(dir, chunkName));
    const { size } = await stat(path.join(dir, chunkName));
    const chunk: Chunk = { path: chunkName, rows, bytes: size, sha256: await sha256Of(path.join(dir, chunkName)), extracted_at: extractedAt, kind: incremental ? 'incremental' : 'full', after };
    const manifest: TableManifest = {
      source: 'postgres',
      table: name,
      url: displayUrl(url),
      cursor: cursor ?? null,
      cursor_value: newest ?? (incremental ? previous.cursor_value : null),
      primary_key: primaryKey,
      columns,
      updated_at: extractedAt,
      chunks: incremental ? [...previous.chunks, chunk] : [chunk],
    };
    // The cursor moves only now, with its chunk on disk; a full read replaces the chunks before it.
    await writeFileAtomic(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    await removeUnlisted(dir, manifest);
    progress.done(`${name}: ${rows} rows -> ${path.join(dir, chunkName)}`);
    return { ...base, files: [{ file: path.join(dir, chunkName), url: base.url, status: 'downloaded', bytes: size }] };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw describeExtractError(error, name);
  } finally {
    untrack();
    await rm(temp, { force: true });
    duck.close();
    await client.end().catch(() => undefined);
  }
}

/**
 * Most rows fit the reader's first buffer; a longer one costs one more read of the changes, with four times the room,
 * or more where the longest row needs it (a row past the limit fails at once). DuckDB holds the buffer within its
 * memory budget, so running out of memory while making room is the row too long.
 */
async function readWithRoomForLongRows<T>(what: string, read: (lineBytes: number) => Promise<T>, beforeRetry: (tooLong: CsvLineTooLong, next: number) => void): Promise<T> {
  const tooLong = (cause: unknown): SourceError =>
    new SourceError(`${what}: a row is longer than etl reads in one row (${MAX_CSV_LINE_BYTES} bytes as CSV)`, { hint: 'leave the widest columns out with a view, and extract the view', cause });
  for (let lineBytes = CSV_LINE_BYTES; ; ) {
    try {
      return await read(lineBytes);
    } catch (error) {
      if (!(error instanceof CsvLineTooLong)) throw lineBytes > CSV_LINE_BYTES && /Out of Memory Error/.test(errorMessage(error)) ? tooLong(error) : error;
      if (lineBytes >= MAX_CSV_LINE_BYTES || error.longestRowBytes > MAX_CSV_LINE_BYTES) throw tooLong(error);
      let next = 4 * lineBytes;
      while (next < error.longestRowBytes) next *= 4;
      next = Math.min(MAX_CSV_LINE_BYTES, next);
      beforeRetry(error, next);
      lineBytes = next;
    }
  }
}

function describeExtractError(error: unknown, name: string): unknown {
  if (isEtlError(error)) return error;
  if (isConnectionLost(error)) return new SourceError(`postgres ${name}: the server went away during the extract (${errorMessage(error)}); the cursor was not advanced`, { hint: 'run again: the same rows are read again', retriable: true, cause: error });
  if ((error as { code?: string }).code) return new SourceError(`postgres ${name}: ${describeServerError(error)}`, { cause: error });
  // DuckDB's own errors quote the row they stopped at, whole: the first line says what went wrong.
  const firstLine = errorMessage(error).split('\n')[0]!;
  return new SourceError(`postgres ${name}: ${firstLine.length > 300 ? `${firstLine.slice(0, 300)}…` : firstLine}`, { cause: error });
}

/** Chunks a killed run wrote but never listed are not part of the table's history. */
async function removeUnlisted(dir: string, manifest: TableManifest | null): Promise<void> {
  const listed = new Set([MANIFEST, ...(manifest?.chunks.map((c) => c.path) ?? [])]);
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (!listed.has(entry) && entry.startsWith('chunk-')) await rm(path.join(dir, entry), { force: true });
  }
}

async function sha256Of(file: string): Promise<string> {
  const { hashLocalFile } = await import('../load/input-files.js');
  return (await hashLocalFile(file)).sha256;
}

/** The table's folder: --table, else the one table extracted. */
async function pickTableDir(request: TransformRequest<PostgresTransformOptions>): Promise<string> {
  if (request.options.table) return tableDir(request.dataDir, request.dataset, parseTableName(request.options.table));
  const root = rawDatasetDir(request.dataDir, 'postgres', request.dataset);
  const tables = (await readdir(root, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => e.name);
  if (tables.length === 1) return path.join(root, tables[0]!);
  if (tables.length === 0) throw new ConfigError(`nothing extracted from Postgres in ${root}`, { hint: 'run `etl extract postgres table --url … --table …` first (same --data-dir)' });
  throw new ConfigError(`${root} holds several tables: ${tables.join(', ')}`, { hint: 'name one with --table' });
}

const OP_COLUMN: Column = { name: '_etl_op', type: 'string', nullable: true, description: "insert: the row's first version etl saw; update: a later version of a row seen before; null without a cursor or primary key" };

async function transform(request: TransformRequest<PostgresTransformOptions>, io: SourceIO): Promise<Table> {
  const dir = await pickTableDir(request);
  const manifest = await readTableManifest(dir, io.log);
  if (!manifest || manifest.chunks.length === 0) throw new ConfigError(`nothing extracted in ${dir}`, { hint: 'run `etl extract postgres table --url … --table …` first (same --data-dir)' });
  for (const [index, chunk] of manifest.chunks.entries()) {
    // The manifest is a record under the data dir, not an instruction: each chunk must lie inside the table's folder and hold its bytes.
    const where = { record: path.join(dir, MANIFEST), field: `chunks[${index}].path`, value: chunk.path, hint: 'extract again with --full' };
    await checkRecordedFile(await resolveInside(dir, path.resolve(dir, chunk.path), where), chunk, where);
  }
  const key = manifest.primary_key;
  if (key.length === 0) io.log.warn(`${manifest.table} has no primary key: rows are not deduplicated`);
  const chunks = manifest.chunks
    .map((chunk, i) => `SELECT *, ${i} AS _etl_chunk, TIMESTAMPTZ ${quoteLiteral(chunk.extracted_at)} AS extracted_at, ${quoteLiteral(path.relative(request.dataDir, path.join(dir, chunk.path)).split(path.sep).join('/'))} AS source_file FROM read_parquet(${quoteLiteral(path.join(dir, chunk.path))})`)
    .join(' UNION ALL BY NAME ');
  const partition = key.map(quoteIdent).join(', ');
  const cursor = manifest.cursor ? quoteIdent(manifest.cursor) : undefined;
  const select = key.length === 0
    ? `SELECT * EXCLUDE (_etl_chunk), CAST(NULL AS VARCHAR) AS _etl_op FROM (${chunks})`
    : `SELECT * EXCLUDE (_etl_chunk, _etl_rank, _etl_first), ${cursor ? `CASE WHEN _etl_first IS NOT DISTINCT FROM ${cursor} THEN 'insert' ELSE 'update' END` : 'CAST(NULL AS VARCHAR)'} AS _etl_op FROM (
         SELECT *, row_number() OVER (PARTITION BY ${partition} ORDER BY _etl_chunk DESC) AS _etl_rank, ${cursor ? `first_value(${cursor}) OVER (PARTITION BY ${partition} ORDER BY _etl_chunk)` : 'NULL'} AS _etl_first FROM (${chunks})
       ) WHERE _etl_rank = 1 ORDER BY ${partition}`;
  const columns: Column[] = [...manifest.columns.map((c) => ({ name: c.name, type: columnTypeOf(c.duckType), nullable: true })), OP_COLUMN, ...LINEAGE_COLUMNS];
  const ordered = `SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM (${select})`;
  return { schema: { name: request.dataset, columns }, parts: parts(ordered, columns, manifest.table), instance: path.basename(dir) };
}

async function* parts(select: string, columns: readonly Column[], name: string): AsyncGenerator<{ name: string; rows: AsyncIterable<Row> }> {
  yield { name, rows: rowsOf(select, columns) };
}

/** The deduplicated rows, a DuckDB chunk (2,048 rows) at a time. */
async function* rowsOf(select: string, columns: readonly Column[]): AsyncGenerator<Row> {
  const duck = await openDuckDb(1);
  const { JSDuckDBValueConverter } = loadDuckDb();
  try {
    const result = await duck.connection.stream(select);
    const names = columns.map((c) => c.name);
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      for (const values of chunk.convertRows(JSDuckDBValueConverter)) {
        const row: Record<string, Row[string]> = {};
        for (let i = 0; i < names.length; i++) row[names[i]!] = toValue(values[i], columns[i]!.type);
        yield row;
      }
    }
  } finally {
    duck.close();
  }
}

function toValue(value: unknown, type: ColumnType): Row[string] {
  if (value === null || value === undefined) return null;
  if (type === 'double') return Number(value);
  if (type === 'int32') return Number(value);
  if (type === 'string') return String(value);
  return value as Row[string];
}

export const postgres: Source<PostgresExtractOptions, PostgresTransformOptions> = {
  name: 'postgres',
  description: 'a PostgreSQL table: the whole table once, then the rows changed since (by a cursor column), deduplicated on its primary key',
  datasets: [{ name: 'table', title: "a table's rows, each primary key once at its newest version: the table's own columns, then", columns: [OP_COLUMN, ...LINEAGE_COLUMNS] }],
  defaultDataset: 'table',
  env: [
    { name: 'PGPASSWORD', description: 'the password (or a line in ~/.pgpass, or in the file PGPASSFILE names)', secret: true, definedBy: 'libpq' },
    { name: 'PGHOST, PGPORT, PGUSER', description: 'what the URL leaves out, as libpq reads them (also PGDATABASE, PGSSLMODE)', definedBy: 'libpq' },
  ],
  extractOptions: {
    flags: [
      { flags: '--url <postgres-url>', description: 'postgres://user@host:5432/database (no password: PGPASSWORD or ~/.pgpass)' },
      { flags: '--table <schema.table>', description: 'the table to read (schema public when none is given)' },
      { flags: '--cursor <column>', description: 'a column that grows with each change (updated_at, id): later runs read only rows past its last value' },
      { flags: '--lag <duration>', description: 'read back this far behind the last cursor value, for rows committed late: 30s, 5m, 2h (default 0s)' },
      { flags: '--full', description: 'read the whole table again, replacing the chunks extracted before' },
    ],
    schema: extractOptions,
  },
  transformOptions: {
    flags: [{ flags: '--table <schema.table>', description: 'which extracted table (default: the only one)' }],
    schema: transformOptions,
  },
  help: {
    extract: `
Examples:
  $ etl extract postgres table --url postgres://reader@db/app --table public.orders --cursor updated_at --lag 5m
  $ etl run postgres table --url postgres://reader@db/app --table public.orders --cursor updated_at --bucket s3://lake/orders/

The first run reads the whole table; later runs read rows whose --cursor is past the largest value seen,
less --lag. Each run adds one parquet chunk to <data-dir>/raw/postgres/table/<schema>.<table>/, and the
cursor is saved in its manifest.json only once the chunk is on disk: a run that fails reads the same rows
again. Without --cursor every run reads the whole table. A change of the table's columns reads it whole.
Rows deleted upstream are not seen (no cursor moves for them): use --full now and then.
The password comes from PGPASSWORD or ~/.pgpass (PGPASSFILE), never the URL.`,
    transform: `
Examples:
  $ etl transform postgres table --out orders.parquet

Transform keeps each primary key once, its newest version, with _etl_op (insert/update), extracted_at
and source_file, after the table's own columns.`,
  },
  extract,
  transform,
  instanceOf: (flags) => (typeof flags.table === 'string' ? tableFolderName(parseTableName(flags.table)) : undefined),
};
