import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, DataError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Column, ColumnType, Row, Table, TablePart, Value } from '../../core/table.js';
import { rawDatasetDir, readManifest, type ResponseEntry, type ResponseManifest } from '../../extract/raw-layer.js';

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
  const files = manifest.files.filter((entry) => where.keep?.(entry) ?? true).map((entry) => ({ entry, file: path.join(rawDir, entry.path), name: path.relative(where.dataDir, path.join(rawDir, entry.path)).split(path.sep).join('/') }));
  // Newest first when deduplicating, so the newest extraction of a row is the one kept.
  if (declaration.dedupeOn) files.sort((a, b) => b.entry.fetched_at.localeCompare(a.entry.fetched_at));
  return jsonTable(declaration, files, log);
}

export interface RawJsonFile {
  entry: Pick<ResponseEntry, 'fetched_at'>;
  /** Path to read. */
  file: string;
  /** Shown in errors and stored in source_file. */
  name: string;
}

export function jsonTable(declaration: JsonTableDeclaration, files: readonly RawJsonFile[], log: Logger): Table {
  const drift = new Map<string, unknown>();
  const seenKeys = declaration.dedupeOn ? new Set<string>() : undefined;
  const known = knownPaths(declaration);
  const getters = declaration.columns.map((column) => ({ column, get: pathGetter(column.path.replace(/^\$\./, '')), fromRoot: column.path.startsWith('$.') }));
  const getRecords = typeof declaration.records === 'string' ? pathGetter(declaration.records) : declaration.records;
  const recordsPath = typeof declaration.records === 'string' ? `$.${declaration.records}` : '$';

  async function* rowsOf(raw: RawJsonFile): AsyncGenerator<Row> {
    let body: unknown;
    try {
      body = JSON.parse(await readFile(raw.file, 'utf8'));
    } catch (error) {
      throw new DataError(`${raw.name} is not valid JSON: ${(error as Error).message}`, { hint: 'extract again to replace the raw file' });
    }
    noteDrift(body, '$', known.root, drift, typeof declaration.records === 'string' ? declaration.records : undefined);
    const records = getRecords(body);
    if (!Array.isArray(records)) throw new DataError(`${raw.name}: ${recordsPath} is not a list of records`);
    const extractedAt = new Date(raw.entry.fetched_at);
    for (let index = 0; index < records.length; index++) {
      const record = records[index] as unknown;
      const where = `${recordsPath}[${index}]`;
      noteDrift(record, where, known.record, drift);
      const row: Record<string, Value> = {};
      for (const { column, get, fromRoot } of getters) {
        const jsonPath = fromRoot ? column.path : `${where}.${column.path}`;
        const value = get(fromRoot ? body : record);
        row[column.name] = value === undefined || value === null ? null : convertValue(value, body, column, raw.name, jsonPath);
        if (row[column.name] === null && column.required) {
          throw new DataError(`${raw.name}: ${jsonPath} is missing (column ${column.name} may not be empty)`, { hint: 'the API answered without a field the dataset requires' });
        }
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

interface KnownPaths {
  record: Set<string>;
  root: Set<string>;
}

function knownPaths(declaration: JsonTableDeclaration): KnownPaths {
  const record = new Set<string>();
  const root = new Set<string>();
  for (const p of [...declaration.columns.map((c) => c.path), ...(declaration.ignore ?? [])]) {
    if (p.startsWith('$.')) root.add(p.slice(2));
    else record.add(p);
  }
  return { record, root };
}

const MAX_DRIFT_REPORTED = 50;

/** Leaf fields not covered by a known path, each recorded once with a first example. */
function noteDrift(value: unknown, where: string, known: Set<string>, drift: Map<string, unknown>, skip?: string, prefix = ''): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const key of Object.keys(value)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    if (dotted === skip || known.has(dotted)) continue;
    const child = (value as Record<string, unknown>)[key];
    if (child !== null && typeof child === 'object' && !Array.isArray(child) && Object.keys(child).length > 0) {
      noteDrift(child, where, known, drift, skip, dotted);
      continue;
    }
    const jsonPath = `${where.replace(/\[\d+\]$/, '[*]')}.${dotted}`;
    if (!drift.has(jsonPath) && drift.size < MAX_DRIFT_REPORTED) drift.set(jsonPath, child);
  }
}

const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
/** An instant must say its zone (Z or ±hh:mm); a local time needs a declared convert(). */
const INSTANT_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function convertValue(value: unknown, response: unknown, column: JsonColumn, file: string, jsonPath: string): Value {
  const fail = (expected: string): never => {
    throw new DataError(`${file}: ${jsonPath} is ${JSON.stringify(value)}, expected ${expected} for column ${column.name}`);
  };
  if (column.convert) {
    try {
      return column.convert(value, response);
    } catch (error) {
      return fail((error as Error).message);
    }
  }
  switch (column.type) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return fail('text');
    case 'int32':
    case 'int64': {
      const number = typeof value === 'string' && NUMBER_TEXT.test(value.trim()) ? Number(value) : value;
      if (typeof number === 'number' && Number.isSafeInteger(number)) return number;
      return fail('a whole number');
    }
    case 'double': {
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() === '') return null;
      if (typeof value === 'string' && NUMBER_TEXT.test(value.trim())) return Number(value);
      return fail('a number');
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return fail('true or false');
    case 'date': {
      const match = typeof value === 'string' ? DATE_TEXT.exec(value) : null;
      if (!match) return fail('a date YYYY-MM-DD');
      return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
    }
    case 'timestamp': {
      if (typeof value !== 'string' || !INSTANT_TEXT.test(value)) return fail('an ISO-8601 instant with a zone');
      const date = new Date(value as string);
      return Number.isNaN(date.getTime()) ? fail('an ISO-8601 instant') : date;
    }
  }
}
