import path from 'node:path';
import { ConfigError, DataError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Column, ColumnType, Row, Table, TablePart, Value } from '../../core/table.js';
import { rawDatasetDir, readManifest, readRawEntry, type ResponseEntry, type ResponseManifest } from '../../core/raw-layer.js';

/**
 * A JSON dataset is declared, not coded: where the records are in a response, and for each column
 * its type and the JSON path it comes from. The engine reads the raw layer only, converts and checks
 * each value, adds lineage columns, and reports fields the declaration does not know (schema drift).
 */
export interface JsonColumn {
  name: string;
  type: ColumnType;
  /** Dotted path inside a record (`login.uuid`), or from the response root when it starts with `$.` (`$.id`). */
  path: string;
  /** A required column's absence is a data error naming the file and the JSON path. */
  required?: boolean;
  /** For values the default conversion does not fit (a local time, a field of two shapes); `response` is the whole answer. */
  convert?: (value: unknown, response: unknown) => Value;
  description?: string;
}

export interface JsonTableDeclaration {
  name: string;
  title: string;
  /** Dotted path of the records array in a response (`results`), or a function for records that are not objects. */
  records: string | ((body: unknown) => unknown);
  columns: readonly JsonColumn[];
  /** Paths left out on purpose (credentials, envelope fields): not reported as drift. A path covers what is under it. */
  ignore?: readonly string[];
  /** Columns that identify a row: when two raw files hold the same key, the newest extraction wins. */
  dedupeOn?: readonly string[];
}

/** Added to every JSON table: where each row came from. */
export const LINEAGE_COLUMNS: readonly Column[] = [
  { name: 'extracted_at', type: 'timestamp', nullable: false, description: "when the raw file was fetched (the manifest's fetched_at)" },
  { name: 'source_file', type: 'string', nullable: false, description: 'the raw file the row was read from, relative to the data directory' },
];

export function jsonColumns(declaration: JsonTableDeclaration): Column[] {
  return [
    ...declaration.columns.map((c) => ({ name: c.name, type: c.type, nullable: !c.required, ...(c.description ? { description: c.description } : {}) })),
    ...LINEAGE_COLUMNS,
  ];
}

/** The table of every response the manifest of <dataDir>/raw/<source>/<dataset>/ lists. */
/** `keep` picks which raw answers to read (a shard reads only its own work units). */
export async function rawJsonTable(declaration: JsonTableDeclaration, where: { dataDir: string; source: string; keep?: (entry: ResponseEntry) => boolean }, log: Logger): Promise<Table> {
  const rawDir = rawDatasetDir(where.dataDir, where.source, declaration.name);
  const manifest = await readManifest<ResponseManifest>(rawDir, log);
  if (!manifest) {
    throw new ConfigError(`nothing extracted for ${where.source} ${declaration.name} in ${rawDir}`, {
      hint: `run \`etl extract ${where.source} ${declaration.name}\` first (same --data-dir)`,
    });
  }
  const files = manifest.files
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => where.keep?.(entry) ?? true)
    .map(({ entry, index }): RawJsonFile => ({
      entry,
      // Read once, and only when the bytes are the ones the manifest lists, from inside the raw folder.
      read: () => readRawEntry({ rawDir, entry, index }),
      name: path.relative(where.dataDir, path.join(rawDir, String(entry.path))).split(path.sep).join('/'),
    }));
  // Newest first when deduplicating, so the newest extraction of a row is the one kept.
  if (declaration.dedupeOn) files.sort((a, b) => b.entry.fetched_at.localeCompare(a.entry.fetched_at));
  return jsonTable(declaration, files, log);
}

export interface RawJsonFile {
  entry: Pick<ResponseEntry, 'fetched_at'>;
  /** The file's bytes (a raw file's are checked against its manifest entry as they are read). */
  read: () => Promise<Buffer>;
  /** Shown in errors and stored in source_file. */
  name: string;
}

export function jsonTable(declaration: JsonTableDeclaration, files: readonly RawJsonFile[], log: Logger): Table {
  const drift = new Map<string, unknown>();
  const seenKeys = declaration.dedupeOn ? new Set<string>() : undefined;
  const known = knownPaths(declaration);
  const getRecords = typeof declaration.records === 'string' ? pathGetter(declaration.records) : declaration.records;
  const recordsPath = typeof declaration.records === 'string' ? `$.${declaration.records}` : '$';
  const recordPath = (index: number): string => `${recordsPath}[${index}]`;
  const recordsOfAll = `${recordsPath}[*]`;
  // JSON paths are spelled out only for a message: building one per value costs more than reading the value.
  const getters: ColumnGetter[] = declaration.columns.map((column) => {
    const fromRoot = column.path.startsWith('$.');
    return { column, fromRoot, get: pathGetter(fromRoot ? column.path.slice(2) : column.path), jsonPath: (index) => (fromRoot ? column.path : `${recordPath(index)}.${column.path}`) };
  });

  // Every row starts as a copy of one object with all columns, so rows share one shape and filling
  // them in overwrites fields rather than adding properties one by one (which is several times slower).
  const rowShape: Record<string, Value> = Object.fromEntries([...declaration.columns.map((column) => column.name), 'extracted_at', 'source_file'].map((name) => [name, null]));

  async function* rowsOf(raw: RawJsonFile): AsyncGenerator<Row> {
    const bytes = await raw.read();
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw new DataError(`${raw.name} is not valid JSON: ${(error as Error).message}`, { hint: 'extract again to replace the raw file' });
    }
    noteDrift(body, known.root, drift, '$', []);
    const records = getRecords(body);
    if (!Array.isArray(records)) throw new DataError(`${raw.name}: ${recordsPath} is not a list of records`);
    const extractedAt = new Date(raw.entry.fetched_at);
    for (let index = 0; index < records.length; index++) {
      const record = records[index] as unknown;
      noteDrift(record, known.record, drift, recordsOfAll, []);
      const row: Record<string, Value> = { ...rowShape };
      for (const getter of getters) {
        const value = getter.get(getter.fromRoot ? body : record);
        const converted = value === undefined || value === null ? null : convertValue(value, body, getter, raw.name, index);
        if (converted === null && getter.column.required) {
          throw new DataError(`${raw.name}: ${getter.jsonPath(index)} is missing (column ${getter.column.name} may not be empty)`, { hint: 'the API answered without a field the dataset requires' });
        }
        row[getter.column.name] = converted;
      }
      if (seenKeys) {
        const key = JSON.stringify(declaration.dedupeOn!.map((name) => valueKey(row[name] ?? null)));
        if (seenKeys.has(key)) continue;
        seenKeys.add(key);
      }
      row.extracted_at = extractedAt;
      row.source_file = raw.name;
      yield row;
    }
  }

  async function* parts(): AsyncGenerator<TablePart> {
    for (const raw of files) yield { name: raw.name, rows: rowsOf(raw) };
    if (drift.size > 0) {
      const list = [...drift].map(([jsonPath, example]) => `${jsonPath.replace(/^.*\[\*\]\./, '').replace(/^\$\./, '')} at ${jsonPath} (e.g. ${JSON.stringify(example)})`);
      log.warn(`schema drift in ${declaration.name}: ${drift.size} field${drift.size === 1 ? '' : 's'} not in the declaration, left out: ${list.join('; ')}`);
    }
  }

  return { schema: { name: declaration.name, columns: jsonColumns(declaration) }, parts: parts() };
}

interface ColumnGetter {
  column: JsonColumn;
  /** Read from the response root (`$.id`) rather than the record. */
  fromRoot: boolean;
  get: (value: unknown) => unknown;
  /** The JSON path of this column in record `index`, for messages. */
  jsonPath: (index: number) => string;
}

function valueKey(value: Value): string | number | boolean | null {
  return value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? String(value) : value;
}

/** A getter for a dotted path; plain property reads, so millions of records stay fast. */
function pathGetter(dotted: string): (value: unknown) => unknown {
  const keys = dotted.split('.');
  return (value) => {
    let current = value;
    for (const key of keys) {
      if (current === null || typeof current !== 'object') return undefined;
      current = (current as Record<string, unknown>)[key];
    }
    return current;
  };
}

/** Known paths as a tree of keys; `null` marks a path covered whole (a column or an ignored path). */
type KnownTree = Map<string, KnownTree | null>;

interface KnownPaths {
  record: KnownTree;
  root: KnownTree;
}

function knownPaths(declaration: JsonTableDeclaration): KnownPaths {
  const record: KnownTree = new Map();
  const root: KnownTree = new Map();
  const cover = (tree: KnownTree, keys: readonly string[]): void => {
    let node = tree;
    for (const [depth, key] of keys.entries()) {
      if (depth === keys.length - 1) {
        node.set(key, null);
        return;
      }
      const next = node.get(key);
      if (next === null) return; // already covered whole
      if (next === undefined) node.set(key, (node = new Map()));
      else node = next;
    }
  };
  for (const p of [...declaration.columns.map((c) => c.path), ...(declaration.ignore ?? [])]) {
    if (p.startsWith('$.')) cover(root, p.slice(2).split('.'));
    else cover(record, p.split('.'));
  }
  if (typeof declaration.records === 'string') cover(root, declaration.records.split('.'));
  return { record, root };
}

const MAX_DRIFT_REPORTED = 50;
const NOTHING_KNOWN: KnownTree = new Map();

/**
 * Leaf fields not covered by a known path, each recorded once with a first example. It walks every
 * record, so it builds no strings until it finds an unknown field (`keys` is the path down to `value`).
 */
function noteDrift(value: unknown, known: KnownTree, drift: Map<string, unknown>, where: string, keys: string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const key in value) {
    const below = known.get(key);
    if (below === null) continue;
    const child = (value as Record<string, unknown>)[key];
    keys.push(key);
    if (child !== null && typeof child === 'object' && !Array.isArray(child) && hasKeys(child)) {
      noteDrift(child, below ?? NOTHING_KNOWN, drift, where, keys);
    } else if (below === undefined && drift.size < MAX_DRIFT_REPORTED) {
      const jsonPath = `${where}.${keys.join('.')}`;
      if (!drift.has(jsonPath)) drift.set(jsonPath, child);
    }
    keys.pop();
  }
}

function hasKeys(value: object): boolean {
  for (const _ in value) return true;
  return false;
}

const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
/** An instant must say its zone (Z or ±hh:mm); a local time needs a declared convert(). */
const INSTANT_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function unexpectedValue(value: unknown, expected: string, getter: ColumnGetter, file: string, index: number): never {
  throw new DataError(`${file}: ${getter.jsonPath(index)} is ${JSON.stringify(value)}, expected ${expected} for column ${getter.column.name}`);
}

function convertValue(value: unknown, response: unknown, getter: ColumnGetter, file: string, index: number): Value {
  const { column } = getter;
  if (column.convert) {
    try {
      return column.convert(value, response);
    } catch (error) {
      return unexpectedValue(value, (error as Error).message, getter, file, index);
    }
  }
  switch (column.type) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return unexpectedValue(value, 'text', getter, file, index);
    case 'int32':
    case 'int64': {
      const number = typeof value === 'string' && NUMBER_TEXT.test(value.trim()) ? Number(value) : value;
      if (typeof number === 'number' && Number.isSafeInteger(number)) return number;
      return unexpectedValue(value, 'a whole number', getter, file, index);
    }
    case 'double': {
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() === '') return null;
      if (typeof value === 'string' && NUMBER_TEXT.test(value.trim())) return Number(value);
      return unexpectedValue(value, 'a number', getter, file, index);
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return unexpectedValue(value, 'true or false', getter, file, index);
    case 'date': {
      const match = typeof value === 'string' ? DATE_TEXT.exec(value) : null;
      if (!match) return unexpectedValue(value, 'a date YYYY-MM-DD', getter, file, index);
      return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
    }
    case 'timestamp': {
      if (typeof value !== 'string' || !INSTANT_TEXT.test(value)) return unexpectedValue(value, 'an ISO-8601 instant with a zone', getter, file, index);
      const date = new Date(value as string);
      return Number.isNaN(date.getTime()) ? unexpectedValue(value, 'an ISO-8601 instant', getter, file, index) : date;
    }
  }
}
