import { DataError } from '../../core/errors.js';
import { LINEAGE_COLUMNS, type JsonColumn, type JsonTableDeclaration } from '../json/json-table.js';
import { JsonNumberText, previewJson } from '../json/parse-raw-json.js';

/**
 * Supermetrics answers carry their own columns: `meta.query.fields` (field_name, field_type dim/met or
 * DIMENSION/METRIC, field_split row/column) and `data`, an array of arrays. With a column split, data[0]
 * is a header row whose names include the pivoted values. Columns are snake_case names; dimensions are
 * text (DATE when named date), metrics DOUBLE.
 */
interface QueryField {
  field_id?: unknown;
  field_name?: unknown;
  field_type?: unknown;
  field_split?: unknown;
}

interface QueryAnswer {
  meta?: { query?: { fields?: unknown } };
  data?: unknown;
}

export function snakeCase(name: string): string {
  return name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'column';
}

export interface AnswerColumn {
  name: string;
  /** The name as the answer gives it (`M-site_TOTAL: Bounces Landing`). */
  field: string;
  dimension: boolean;
}

export interface AnswerLayout {
  columns: AnswerColumn[];
  /** Where the data rows start in `data` (1 when data[0] is a header row). */
  firstRow: number;
}

const isDimension = (field: QueryField): boolean => typeof field.field_type === 'string' && /^dim/i.test(field.field_type);

/** Column names and kinds of one answer, and where its data rows start. */
export function answerLayout(body: unknown, file: string): AnswerLayout {
  const answer = (body ?? {}) as QueryAnswer;
  const fields = answer.meta?.query?.fields;
  if (!Array.isArray(fields) || !Array.isArray(answer.data)) throw new DataError(`${file}: expected meta.query.fields and data in a Supermetrics answer`);
  const names = fields.map((field: unknown, index) => {
    const name = field !== null && typeof field === 'object' ? ((field as QueryField).field_name ?? (field as QueryField).field_id ?? '') : undefined;
    if (typeof name !== 'string') throw new DataError(`${file}: $.meta.query.fields[${index}] is ${previewJson(field)}, expected a field with a field_name`);
    return name;
  });
  const typed = fields as QueryField[];
  const pivoted = typed.some((f) => f.field_split === 'column');
  const first: unknown = answer.data[0];
  const headerGiven = Array.isArray(first) && (pivoted || (first.length === names.length && first.every((cell, i) => cell === names[i])));
  if (!headerGiven) return { columns: namedColumns(names, (i) => isDimension(typed[i]!)), firstRow: 0 };
  // Pivoted: the row-split dimensions come first, then one column per pivoted value and metric.
  const header = (first as unknown[]).map((cell, i) => {
    if (typeof cell === 'string' || typeof cell === 'number' || cell instanceof JsonNumberText) return String(cell);
    throw new DataError(`${file}: $.data[0][${i}] is ${previewJson(cell)}, expected a column name in the header row`);
  });
  const rowDimensions = typed.filter((f) => isDimension(f) && f.field_split !== 'column').length;
  return { columns: namedColumns(header, (i) => (pivoted ? i < rowDimensions : isDimension(typed[i] ?? {}))), firstRow: 1 };
}

function namedColumns(fields: readonly string[], dimension: (index: number) => boolean): AnswerColumn[] {
  const names = distinctColumnNames(fields);
  return fields.map((field, i) => ({ name: names[i]!, field, dimension: dimension(i) }));
}

/**
 * snake_case names, one per field and never the same twice: "A b" and "a_b" (or "Name" and "name") both
 * make a_b, so the later one is a_b_2 (the first free suffix, skipping names other fields make). The
 * lineage columns' names are taken too.
 */
export function distinctColumnNames(fields: readonly string[]): string[] {
  const bases = fields.map(snakeCase);
  const lineage = LINEAGE_COLUMNS.map((column) => column.name);
  const wanted = new Set([...bases, ...lineage]);
  const used = new Set(lineage);
  return bases.map((base) => {
    let name = base;
    for (let suffix = 2; used.has(name) || (name !== base && wanted.has(name)); suffix++) name = `${base}_${suffix}`;
    used.add(name);
    return name;
  });
}

/** For the drift report: each field whose column name got a suffix, and why. */
export function renamedFields(layout: AnswerLayout): string[] {
  const lineage = new Set(LINEAGE_COLUMNS.map((column) => column.name));
  return layout.columns.flatMap((column, index) => {
    const base = snakeCase(column.field);
    if (column.name === base) return [];
    const holder = layout.columns.slice(0, index).find((other) => other.name === base);
    const takenBy = holder ? `"${holder.field}"` : lineage.has(base) ? "etl's lineage column" : 'another field';
    return [`"${column.field}" is ${column.name} (${base} is ${takenBy})`];
  });
}

const CHUNK_KEY = /^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})\//;

export function queryDeclaration(layout: AnswerLayout): JsonTableDeclaration {
  const columns: JsonColumn[] = layout.columns.map(({ name, dimension }) => ({
    name,
    path: name,
    type: !dimension ? 'double' : /(^|_)date$/.test(name) ? 'date' : 'string',
    required: dimension,
  }));
  const key = JSON.stringify(layout.columns);
  const hasDate = layout.columns.some((c) => c.dimension && c.name === 'date');
  return {
    name: 'query',
    title: 'Supermetrics query results, one row per combination of dimensions',
    records: {
      from: 'data',
      read(body, file) {
        const own = answerLayout(body, file);
        if (JSON.stringify(own.columns) !== key) {
          throw new DataError(`${file}: the query's columns changed between raw files (${own.columns.map((c) => c.name).join(', ')} vs ${layout.columns.map((c) => c.name).join(', ')})`, {
            hint: 'extract the whole period again with --refresh',
          });
        }
        const data = (body as { data: unknown[] }).data;
        const records = data.slice(own.firstRow).map((row, index) => {
          if (!Array.isArray(row)) throw new DataError(`${file}: $.data[${index + own.firstRow}] is ${previewJson(row)}, expected a row (a list of cells)`);
          return Object.fromEntries(layout.columns.map((c, i) => [c.name, row[i]]));
        });
        const position = new Map(layout.columns.map((c, i) => [c.name, i]));
        return { records, pathOf: (index, column) => `$.data[${index + own.firstRow}]${column === undefined ? '' : `[${position.get(column)}]`}` };
      },
    },
    columns,
    ignore: ['$.meta', '$.paging'],
    dedupeOn: layout.columns.filter((c) => c.dimension).map((c) => c.name),
    // The API answers the days asked for: a row dated outside its chunk means the query asks for other
    // dates (a date_range_type of its own) or the answer is not for this chunk. None of the recorded
    // answers has one, so it is refused rather than kept with a warning.
    ...(hasDate ? { checkRow: (row, raw) => outsideChunk(row.date, raw.entry.key) } : {}),
  };
}

function outsideChunk(date: unknown, entryKey: string | undefined): { message: string; hint: string } | undefined {
  const chunk = CHUNK_KEY.exec(entryKey ?? '');
  if (!chunk || !(date instanceof Date)) return undefined;
  const day = date.toISOString().slice(0, 10);
  if (day >= chunk[1]! && day <= chunk[2]!) return undefined;
  return {
    message: `is dated ${day}, outside ${chunk[1]}..${chunk[2]}, the period this file was fetched for`,
    hint: 'the API answered rows for other dates: check the query file sets no dates of its own (date_range_type, start_date), then extract the period again with --refresh',
  };
}
