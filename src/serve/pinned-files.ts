import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, symlink, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LOG_DIR, decodeDeltaPath } from '../delta/actions.js';
import { LocalLogStore } from '../delta/log-store.js';
import { readSnapshot } from '../delta/replay.js';
import { duckTypeOf, parseSchemaString } from '../delta/schema.js';
import { EtlError } from '../core/errors.js';
import { quoteIdentifier } from '../transform/parquet/duckdb-sql.js';
import { partitionManifests, type DatasetLocation } from './catalog.js';
import { HttpError } from './http-error.js';

/**
 * A dataset's files held open for one query, so that a run replacing them meanwhile cannot change what the
 * query reads: etl replaces a file by renaming a new one over it, and a descriptor opened before the rename
 * still reads the old inode whole. DuckDB opens each file by the name `/proc/self/fd/<n>`, which reaches the
 * very file this process holds open, however the directory changes. So a query sees the old rows or the new,
 * never an error or a mix. (Where /proc/self/fd does not exist the files are read by their names, without
 * that guarantee.)
 */
export interface PinnedTable {
  /** A table expression reading exactly the pinned files; `bind` adds a parameter and returns its placeholder. */
  from(bind: (value: string) => string): string;
  /** Expressions (with their types) that tell any two rows apart, for the keyset's tiebreak: which file, which row in it. */
  tiebreak: ReadonlyArray<{ expression: string; type: string }>;
  /** Names the files' identity: equal versions hold the same rows (caches of schema and row counts key on it). */
  version: string;
  /** The files read, by their names in the data dir. */
  files: string[];
  /** For a Delta table: the version read, and the columns its partition values fill in. */
  delta?: { version: number; partitionColumns: string[] };
  release(): Promise<void>;
}

const FD_DIR = '/proc/self/fd';
const canPin = existsSync(FD_DIR);
/** A partitioned folder found mid-rewrite is looked at again this often before the request is refused. */
const REWRITE_RETRIES = 20;
const REWRITE_WAIT_MS = 100;

export async function pinFiles(location: DatasetLocation): Promise<PinnedTable> {
  if (location.kind === 'file') return pinFile(location.path);
  for (let attempt = 0; ; attempt++) {
    const pinned = location.kind === 'delta' ? await pinDeltaVersion(location.path) : await pinPartitions(location.path);
    if (pinned) return pinned;
    if (attempt >= REWRITE_RETRIES) throw new HttpError(503, `${location.source}/${location.name} is being rewritten by a run; try again shortly`, { 'Retry-After': '2' });
    await new Promise((resolve) => setTimeout(resolve, REWRITE_WAIT_MS));
  }
}

async function pinFile(file: string): Promise<PinnedTable> {
  const handle = await open(file, 'r').catch(() => {
    throw new HttpError(404, `${path.basename(file)} is gone from the processed layer`);
  });
  const info = await handle.stat();
  const name = canPin ? `${FD_DIR}/${handle.fd}` : file;
  return {
    from: (bind) => `read_parquet(${bind(name)}, file_row_number = true)`,
    tiebreak: [{ expression: 'file_row_number', type: 'BIGINT' }],
    version: `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`,
    files: [file],
    release: () => handle.close(),
  };
}

interface ManifestEntry {
  path: string;
  bytes: number;
  sha256: string;
}

/** A partition path as etl writes it (`<column>=<value>/part-0.parquet`): anything else in a manifest is refused. */
const PARTITION_PATH = /^[^/\\]+=[^/\\]*\/part-\d+\.parquet$/;

/**
 * The files the folder's manifests list, each opened and checked against its manifest entry. etl rewrites a
 * folder by renaming each new partition file into place and writing the manifest last, so between the two the
 * old manifest names files that are already new: a file written after its manifest (mtime) must hash to the
 * manifest's sha256, or the folder is mid-rewrite and undefined is returned (the caller waits and looks again).
 * Hashes are remembered per inode, so a folder copied with new mtimes is hashed once, not per query.
 */
async function pinPartitions(dir: string): Promise<PinnedTable | undefined> {
  const handles: FileHandle[] = [];
  const releaseHandles = async (): Promise<void> => {
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  };
  try {
    const manifests = await Promise.all((await partitionManifests(dir)).map(async (file) => ({ file, text: await readFile(file, 'utf8').catch(() => '') })));
    const files: Array<{ relative: string; handle: FileHandle }> = [];
    let partitionBy: string | undefined;
    for (const { file, text } of manifests) {
      const manifest = parseManifest(text, file);
      if (!manifest) return undefined;
      partitionBy = manifest.partition_by;
      for (const entry of manifest.files) {
        if (!PARTITION_PATH.test(entry.path) || entry.path.split('/').includes('..')) throw new HttpError(500, `${file} names ${JSON.stringify(entry.path)}, which is not a partition file`);
        const handle = await open(path.join(dir, ...entry.path.split('/')), 'r').catch(() => undefined);
        if (!handle) return undefined;
        handles.push(handle);
        if (!(await matchesEntry(handle, entry, Date.parse(manifest.written_at)))) return undefined;
        files.push({ relative: entry.path, handle });
      }
    }
    if (partitionBy === undefined || files.length === 0) return undefined;
    // Hive partitioning reads the column's value from the folder name: the pinned files get links named as in the folder.
    const linkDir = canPin ? await mkdtemp(path.join(os.tmpdir(), 'etl-serve-')) : dir;
    const names: string[] = [];
    for (const { relative, handle } of files) {
      const link = path.join(linkDir, ...relative.split('/'));
      if (canPin) {
        await mkdir(path.dirname(link), { recursive: true });
        await symlink(`${FD_DIR}/${handle.fd}`, link);
      }
      names.push(link);
    }
    const version = createHash('sha256').update(manifests.map((m) => m.text).join('\0')).digest('hex');
    const pinnedHandles = handles.splice(0);
    return {
      from: (bind) => `read_parquet([${names.map(bind).join(', ')}], hive_partitioning = true, file_row_number = true)`,
      // The partition value as text: its type is whatever DuckDB's Hive reader guesses, text is always the same.
      tiebreak: [
        { expression: `CAST(${quoteIdentifier(partitionBy)} AS VARCHAR)`, type: 'VARCHAR' },
        { expression: 'file_row_number', type: 'BIGINT' },
      ],
      version,
      files: files.map(({ relative }) => path.join(dir, ...relative.split('/'))),
      release: async () => {
        await Promise.all(pinnedHandles.map((h) => h.close().catch(() => undefined)));
        if (canPin) await rm(linkDir, { recursive: true, force: true });
      },
    };
  } finally {
    await releaseHandles();
  }
}

/** Rows per data file stay below this: a row's tiebreak is its file's index times it plus its row number in the file. */
const ROWS_PER_FILE = 2 ** 40;

/**
 * One version of a Delta table: the log is replayed once, here, and exactly the files that version names are
 * opened. Delta never rewrites a data file (a commit adds new names and removes old ones from the log), so the
 * open files are that version whole, whatever commits land meanwhile. A file gone before it is opened (vacuum
 * after a newer commit) gives undefined: the caller replays again and pins the newer version.
 * Partition values live in the log, not in the files: each file's are joined in as typed columns.
 */
async function pinDeltaVersion(dir: string): Promise<PinnedTable | undefined> {
  const store = new LocalLogStore(dir);
  let snapshot;
  let paths: string[];
  try {
    snapshot = await readSnapshot(store);
    if (!snapshot) return undefined;
    paths = [...snapshot.files.keys()].sort().map((logPath) => path.join(dir, ...decodeDeltaPath(logPath).split('/')));
  } catch (error) {
    // A damaged log, or one naming files outside the table: said as the Delta reader says it.
    if (error instanceof EtlError) throw new HttpError(500, error.message);
    throw error;
  }
  const fields = parseSchemaString(snapshot.metaData.schemaString, `${store.location}${LOG_DIR}`);
  const partitionColumns = snapshot.metaData.partitionColumns;
  const typeOf = (column: string): string => {
    const type = fields.find((field) => field.name === column)?.type;
    const duckType = type === undefined ? undefined : duckTypeOf(type);
    if (!duckType) throw new HttpError(500, `${store.location}: partition column ${JSON.stringify(column)} has type ${type ?? 'unknown'}, which etl serve does not read`);
    return duckType;
  };
  const adds = [...snapshot.files.keys()].sort().map((logPath) => snapshot.files.get(logPath)!);
  const handles: FileHandle[] = [];
  const files: string[] = [];
  for (const file of paths) {
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) {
      await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
      return undefined;
    }
    handles.push(handle);
    files.push(file);
  }
  const names = handles.map((handle, index) => (canPin ? `${FD_DIR}/${handle.fd}` : files[index]!));
  const columns = fields.map((field) => quoteIdentifier(field.name));
  const from = (bind: (value: string) => string): string => {
    if (adds.length === 0) {
      // A table whose every file was removed: no file to read the column types from, so they come from the schema.
      const typed = fields.map((field) => `CAST(NULL AS ${duckTypeOf(field.type) ?? 'VARCHAR'}) AS ${quoteIdentifier(field.name)}`);
      return `(SELECT ${[...typed, 'CAST(NULL AS BIGINT) AS file_row_number'].join(', ')} WHERE false)`;
    }
    const partitionRows = adds.map((add, index) => {
      const values = partitionColumns.map((column) => {
        const value = add.partitionValues[column];
        return value === null || value === undefined ? `CAST(NULL AS ${typeOf(column)})` : `CAST(${bind(value)} AS ${typeOf(column)})`;
      });
      return `(${[bind(names[index]!), String(index), ...values].join(', ')})`;
    });
    const select = fields.map((field) => (partitionColumns.includes(field.name) ? `p.${quoteIdentifier(field.name)}` : `d.${quoteIdentifier(field.name)}`));
    return [
      `(SELECT ${[...select.map((expression, i) => `${expression} AS ${columns[i]}`), `p.__file_index * ${ROWS_PER_FILE} + d.file_row_number AS file_row_number`].join(', ')}`,
      `FROM read_parquet([${names.map(bind).join(', ')}], union_by_name = true, filename = true, file_row_number = true) AS d`,
      `JOIN (VALUES ${partitionRows.join(', ')}) AS p(__file, __file_index${partitionColumns.map((column) => `, ${quoteIdentifier(column)}`).join('')}) ON d.filename = p.__file)`,
    ].join(' ');
  };
  return {
    from,
    tiebreak: [{ expression: 'file_row_number', type: 'BIGINT' }],
    version: `delta:${snapshot.version}:${createHash('sha256').update(adds.map((add) => add.path).join('\0')).digest('hex')}`,
    files,
    delta: { version: snapshot.version, partitionColumns },
    release: async () => {
      await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    },
  };
}

function parseManifest(text: string, file: string): { partition_by: string; written_at: string; files: ManifestEntry[] } | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined; // being written: the next look sees it whole
  }
  const manifest = data as { partition_by?: unknown; written_at?: unknown; files?: unknown };
  if (typeof manifest.partition_by !== 'string' || typeof manifest.written_at !== 'string' || !Array.isArray(manifest.files)) {
    throw new HttpError(500, `${file} is not a partition manifest etl wrote`);
  }
  return manifest as { partition_by: string; written_at: string; files: ManifestEntry[] };
}

const hashes = new Map<string, string>();

async function matchesEntry(handle: FileHandle, entry: ManifestEntry, manifestWrittenAt: number): Promise<boolean> {
  const info = await handle.stat();
  if (info.size !== entry.bytes) return false;
  if (info.mtimeMs <= manifestWrittenAt) return true;
  const key = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`;
  let sha256 = hashes.get(key);
  if (sha256 === undefined) {
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ start: 0, autoClose: false })) hash.update(chunk as Buffer);
    sha256 = hash.digest('hex');
    hashes.set(key, sha256);
  }
  return sha256 === entry.sha256;
}
