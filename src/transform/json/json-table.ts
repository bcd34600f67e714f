import path from 'node:path';
import { ConfigError, DataError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Column, ColumnType, Row, Table, TablePart, Value } from '../../core/table.js';
import { rawDatasetDir, readManifest, readRawEntry, type ResponseEntry, type ResponseManifest } from '../../core/raw-layer.js';
import { isCalendarDay, isTimeOfDay, utcTime } from './calendar.js';
import { JsonNumberText, exactInteger, parseRawJson, previewJson } from './parse-raw-json.js';

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
  /** Dotted path of the records array in a response (`results`), or a reader for records that are not objects there. */
  records: string | RecordsReader;
  columns: readonly JsonColumn[];
  /** Paths left out on purpose (credentials, envelope fields): not reported as drift. A path covers what is under it. */
  ignore?: readonly string[];
  /** Columns that identify a row: when two raw files hold the same key, the newest extraction wins. */
  dedupeOn?: readonly string[];
  /** A check of each row against the raw file it came from (Supermetrics: the row's date lies in the period fetched): what is wrong with it, if anything. */
  checkRow?: (row: Row, file: RawJsonFile) => { message: string; hint?: string } | undefined;
}

/** Records made from an answer by code (Supermetrics' rows of cells, a bare list). */
export interface RecordsReader {
  /** Dotted path of the part of the answer the records come from (`data`), or `$` for all of it: it is read, so it is not drift. */
  from: string;
  /**
   * The records of one answer (`file` names it in errors), and (when they are not `from[index]`) the JSON
   * path of record `index` or of one of its columns, for messages.
   */
  read(body: unknown, file: string): { records: unknown; pathOf?: RecordPath };
}

/** The JSON path of record `index`, or of the field `columnPath` in it. */
export type RecordPath = (index: number, columnPath?: string) => string;

/** Added to every JSON table: where each row came from. */
export const LINEAGE_COLUMNS: readonly Column[] = [
  { name: 'extracted_at', type: 'timestamp', nullable: false, description: "when the raw file was fetched (the manifest's fetched_at)" },
  { name: 'source_file', type: 'string', nullable: false, description: 'the raw file the row was read from, relative to the data directory' },
];

export function jsonColumns(declaration: JsonTableDeclaration): Column[] {
  const columns = [
    ...declaration.columns.map((c) => ({ name: c.name, type: c.type, nullable: !c.required, ...(c.description ? { description: c.description } : {}) })),
    ...LINEAGE_COLUMNS,
  ];
  // Two columns of one name would keep one value of the two: names made from data are made distinct before this.
  const names = columns.map((c) => c.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) throw new Error(`${declaration.name} declares the column ${twice} twice`);
  return columns;
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
  /** The manifest entry: when it was fetched, and its key (what was asked for). */
  entry: Pick<ResponseEntry, 'fetched_at'> & Partial<Pick<ResponseEntry, 'key'>>;
  /** The file's bytes (a raw file's are checked against its manifest entry as they are read). */
  read: () => Promise<Buffer>;
  /** Shown in errors and stored in source_file. */
  name: string;
}

export function jsonTable(declaration: JsonTableDeclaration, files: readonly RawJsonFile[], log: Logger): Table {
  const drift = new Map<string, unknown>();
  const seenKeys = declaration.dedupeOn ? new Set<string>() : undefined;
  const reader = typeof declaration.records === 'string' ? listAt(declaration.records) : declaration.records;
  const known = knownPaths(declaration, reader);
  const recordsPath = reader.from === '$' ? '$' : `$.${reader.from}`;
  const listPath: RecordPath = (index, columnPath) => `${recordsPath}[${index}]${columnPath === undefined ? '' : `.${columnPath}`}`;
  const recordsOfAll = `${recordsPath}[*]`;
  const columns = jsonColumns(declaration);
  const getters: ColumnGetter[] = declaration.columns.map((column) => {
    const fromRoot = column.path.startsWith('$.');
    return { column, fromRoot, get: pathGetter(fromRoot ? column.path.slice(2) : column.path) };
  });

  // Every row starts as a copy of one object with all columns, so rows share one shape and filling
  // them in overwrites fields rather than adding properties one by one (which is several times slower).
  const rowShape: Record<string, Value> = Object.fromEntries([...declaration.columns.map((column) => column.name), 'extracted_at', 'source_file'].map((name) => [name, null]));

  async function* rowsOf(raw: RawJsonFile): AsyncGenerator<Row> {
    const body = parseRawJson((await raw.read()).toString('utf8'), raw.name);
    noteDrift(body, known.root, drift, '$', []);
    const { records, pathOf = listPath } = reader.read(body, raw.name);
    if (!Array.isArray(records)) throw new DataError(`${raw.name}: ${recordsPath} is not a list of records`);
    const extractedAt = new Date(raw.entry.fetched_at);
    for (let index = 0; index < records.length; index++) {
      const record = records[index] as unknown;
      noteDrift(record, known.record, drift, recordsOfAll, []);
      const row: Record<string, Value> = { ...rowShape };
      // JSON paths are spelled out only for a message: building one per value costs more than reading the value.
      const where: FieldPath = (column) => `${raw.name}: ${column.path.startsWith('$.') ? column.path : pathOf(index, column.path)}`;
      for (const getter of getters) {
        const value = getter.get(getter.fromRoot ? body : record);
        const converted = value === undefined || value === null ? null : convertValue(value, body, getter.column, where);
        if (converted === null && getter.column.required) {
          throw new DataError(`${where(getter.column)} is missing (column ${getter.column.name} may not be empty)`, { hint: 'the API answered without a field the dataset requires' });
        }
        row[getter.column.name] = converted;
      }
      const problem = declaration.checkRow?.(row, raw);
      if (problem) throw new DataError(`${raw.name}: ${pathOf(index)} ${problem.message}`, problem.hint ? { hint: problem.hint } : {});
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
      const list = [...drift].map(([jsonPath, example]) => `${jsonPath.replace(/^.*\[\*\]\./, '').replace(/^\$\./, '')} at ${jsonPath} (e.g. ${previewJson(example)})`);
      log.warn(`schema drift in ${declaration.name}: ${drift.size} field${drift.size === 1 ? '' : 's'} not in the declaration, left out: ${list.join('; ')}`);
    }
  }

  return { schema: { name: declaration.name, columns }, parts: parts() };
}

/** `<raw file>: <JSON path of the column's field in this record>`, for messages. */
type FieldPath = (column: JsonColumn) => string;

interface ColumnGetter {
  column: JsonColumn;
  /** Read from the response root (`$.id`) rather than the record. */
  fromRoot: boolean;
  get: (value: unknown) => unknown;
}

/** The records at a dotted path of the answer. */
function listAt(dotted: string): RecordsReader {
  const get = pathGetter(dotted);
  return { from: dotted, read: (body) => ({ records: get(body) }) };
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

function knownPaths(declaration: JsonTableDeclaration, reader: RecordsReader): KnownPaths {
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
  if (reader.from !== '$') cover(root, reader.from.split('.'));
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
    if (child !== null && typeof child === 'object' && !Array.isArray(child) && !(child instanceof JsonNumberText) && hasKeys(child)) {
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
const INSTANT_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

const INT32 = { min: -2_147_483_648, max: 2_147_483_647 };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const SAFE = { min: BigInt(Number.MIN_SAFE_INTEGER), max: BigInt(Number.MAX_SAFE_INTEGER) };

/** What a column of each type holds, for messages. */
const EXPECTED: Record<ColumnType, string> = {
  string: 'text',
  int32: 'a whole number that fits INT32 (-2147483648 to 2147483647)',
  int64: 'a whole number that fits INT64 (-9223372036854775808 to 9223372036854775807)',
  double: 'a number that fits a DOUBLE (up to ±1.8e308)',
  boolean: 'true or false',
  date: 'a date YYYY-MM-DD',
  timestamp: 'an ISO-8601 instant with a zone',
};

function unexpectedValue(value: unknown, expected: string, column: JsonColumn, where: FieldPath): never {
  throw new DataError(`${where(column)} is ${previewJson(value)}, expected ${expected} for column ${column.name}`);
}

/**
 * A JSON value as its column's type, or a data error naming the field and the record. Nothing is
 * changed on the way: a number too large for its column, or a date the calendar does not have, is refused.
 */
function convertValue(value: unknown, response: unknown, column: JsonColumn, where: FieldPath): Value {
  if (column.convert) {
    let converted: Value;
    try {
      converted = column.convert(value, response);
    } catch (error) {
      return unexpectedValue(value, (error as Error).message, column, where);
    }
    return fitsColumn(converted, column.type) ? converted : unexpectedValue(value, EXPECTED[column.type], column, where);
  }
  let converted: Value | undefined;
  switch (column.type) {
    case 'string':
      // A number a double cannot hold is kept as written (JsonNumberText).
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean' || value instanceof JsonNumberText) return String(value);
      break;
    case 'int32':
    case 'int64':
      converted = wholeNumber(value, column.type);
      break;
    case 'double':
      if (typeof value === 'string' && value.trim() === '') return null;
      converted = typeof value === 'number' ? value : value instanceof JsonNumberText || (typeof value === 'string' && NUMBER_TEXT.test(value.trim())) ? Number(String(value)) : undefined;
      if (converted !== undefined && !Number.isFinite(converted)) converted = undefined;
      break;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      break;
    case 'date':
      converted = calendarDate(value);
      if (converted === undefined && typeof value === 'string' && DATE_TEXT.test(value)) return unexpectedValue(value, 'a date on the calendar', column, where);
      break;
    case 'timestamp':
      converted = instant(value);
      if (converted === undefined && typeof value === 'string' && INSTANT_TEXT.test(value)) return unexpectedValue(value, 'an instant on the calendar and the clock', column, where);
      break;
  }
  return converted === undefined ? unexpectedValue(value, EXPECTED[column.type], column, where) : converted;
}

/** A whole number that fits the column: a number while it is exact, a bigint past 2^53 (INT64); undefined when there is none. */
function wholeNumber(value: unknown, type: 'int32' | 'int64'): number | bigint | undefined {
  let whole: number | bigint | undefined;
  if (typeof value === 'number') whole = Number.isSafeInteger(value) ? value : undefined;
  else if (typeof value === 'string' || value instanceof JsonNumberText) whole = exactInteger(String(value));
  if (typeof whole === 'bigint') {
    if (whole < SAFE.min || whole > SAFE.max) return type === 'int64' && whole >= INT64.min && whole <= INT64.max ? whole : undefined;
    whole = Number(whole);
  }
  return whole === undefined || type === 'int64' || (whole >= INT32.min && whole <= INT32.max) ? whole : undefined;
}

function calendarDate(value: unknown): Date | undefined {
  const match = typeof value === 'string' ? DATE_TEXT.exec(value) : null;
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return isCalendarDay(year, month, day) ? new Date(utcTime(year, month, day)) : undefined;
}

/** `new Date()` rolls 2024-02-30T10:00Z over to 1 March and takes 24:00: the fields are checked first. */
function instant(value: unknown): Date | undefined {
  if (typeof value !== 'string' || !INSTANT_TEXT.test(value)) return undefined;
  // The shape is checked, so the fields stand at known places (read without a match object: this runs per
  // value). Date refuses hour 25, minute 61 and an offset of +24:00 itself, but takes 24:00 and day 30 of February.
  const second = value[16] === ':' ? twoDigits(value, 17) : 0;
  if (!isCalendarDay(twoDigits(value, 0) * 100 + twoDigits(value, 2), twoDigits(value, 5), twoDigits(value, 8))) return undefined;
  if (!isTimeOfDay(twoDigits(value, 11), twoDigits(value, 14), second)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const twoDigits = (text: string, at: number): number => (text.charCodeAt(at) - 48) * 10 + text.charCodeAt(at + 1) - 48;

/** What a declared convert() returns must fit its column as the default conversion's values do. */
function fitsColumn(value: Value, type: ColumnType): boolean {
  if (value === null) return true;
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'int32':
      return typeof value === 'number' && Number.isInteger(value) && value >= INT32.min && value <= INT32.max;
    case 'int64':
      return typeof value === 'number' ? Number.isSafeInteger(value) : typeof value === 'bigint' && value >= INT64.min && value <= INT64.max;
    case 'double':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'date':
    case 'timestamp':
      return value instanceof Date && !Number.isNaN(value.getTime());
  }
}
