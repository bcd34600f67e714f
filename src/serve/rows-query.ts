import { quoteIdentifier } from '../transform/parquet/duckdb-sql.js';
import { badRequest } from './http-error.js';
import type { PinnedTable } from './pinned-files.js';

/** A served column: its DuckDB type as the parquet file gives it, and what the declaration says it means. */
export interface ServedColumn {
  name: string;
  type: string;
  description?: string;
}

export const OPERATORS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'null'] as const;
export type Operator = (typeof OPERATORS)[number];
const SQL_OPERATOR: Record<Exclude<Operator, 'in' | 'null'>, string> = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' };

/** Query parameters that are not filters. A column with one of these names is filtered as `<name>__eq=`. */
export const RESERVED_PARAMS = ['columns', 'order', 'limit', 'cursor', 'format'] as const;

export interface Filter {
  column: ServedColumn;
  operator: Operator;
  /** As typed in the URL: bound as text and cast to the column's type by DuckDB. `in`: the list; `null`: 'true'/'false'. */
  values: string[];
}

export interface OrderKey {
  column: ServedColumn;
  descending: boolean;
}

export interface RowsQuery {
  columns: ServedColumn[];
  filters: Filter[];
  order: OrderKey[];
  /** Undefined: every row (streamed formats only). */
  limit: number | undefined;
  /** The last row of the previous page: one value per order key, then per tiebreak expression (DuckDB's text, null for NULL). */
  after: Array<string | null> | undefined;
}

export interface QueryLimits {
  defaultLimit: number;
  /** The most rows a JSON page holds (`limit` above it is a 400). */
  maxJsonRows: number;
  /** The most values an `__in` list holds. */
  maxInValues: number;
}

/**
 * Reads a rows request's query string against the dataset's columns. Every column name must be one of the
 * schema's, every operator one of OPERATORS, every value readable as its column's type: anything else is a
 * 400 with one line naming it. Nothing from the request is pasted into SQL: names are checked and quoted,
 * values bound as parameters.
 */
export function parseRowsQuery(params: URLSearchParams, schema: readonly ServedColumn[], paged: boolean, limits: QueryLimits): RowsQuery {
  const byName = new Map(schema.map((c) => [c.name, c]));
  const column = (name: string, where: string): ServedColumn => {
    const found = byName.get(name);
    if (!found) throw badRequest(`unknown column ${JSON.stringify(name)} in ${where}; columns: ${schema.map((c) => c.name).join(', ')}`);
    return found;
  };
  const once = (name: string): string | undefined => {
    const all = params.getAll(name);
    if (all.length > 1) throw badRequest(`${name} given ${all.length} times; give it once`);
    return all[0];
  };

  const columnsParam = once('columns');
  const columns = columnsParam === undefined || columnsParam === '' ? [...schema] : columnsParam.split(',').map((name) => column(name, 'columns'));

  const orderParam = once('order');
  const order = orderParam === undefined || orderParam === '' ? [] : orderParam.split(',').map((item) => ({ column: column(item.replace(/^-/, ''), 'order'), descending: item.startsWith('-') }));

  const limitParam = once('limit');
  let limit: number | undefined = paged ? limits.defaultLimit : undefined;
  if (limitParam !== undefined) {
    if (!/^\d{1,9}$/.test(limitParam) || Number(limitParam) < 1) throw badRequest(`limit ${JSON.stringify(limitParam)} is not a whole number of 1 or more`);
    limit = Number(limitParam);
    if (paged && limit > limits.maxJsonRows) {
      throw badRequest(`limit ${limit} is more than the ${limits.maxJsonRows} rows a JSON page holds; follow "next" for more, or ask format=csv, ndjson or parquet for the whole selection`);
    }
  }

  const filters: Filter[] = [];
  for (const [key, value] of params) {
    if ((RESERVED_PARAMS as readonly string[]).includes(key)) continue;
    const split = key.lastIndexOf('__');
    const [name, operatorText] = split > 0 ? [key.slice(0, split), key.slice(split + 2)] : [key, 'eq'];
    const target = byName.get(name) ?? (split > 0 ? undefined : column(name, 'a filter'));
    if (!target) {
      // `a__b` where `a__b` is a column, or an unknown column with an operator: the name decides which it was.
      if (byName.has(key)) {
        filters.push(filterOf(byName.get(key)!, 'eq', value, limits));
        continue;
      }
      column(name, `filter ${JSON.stringify(key)}`);
    }
    if (!(OPERATORS as readonly string[]).includes(operatorText)) throw badRequest(`unknown operator ${JSON.stringify(`__${operatorText}`)} in ${JSON.stringify(key)}; operators: ${OPERATORS.map((o) => `__${o}`).join(', ')}`);
    filters.push(filterOf(target!, operatorText as Operator, value, limits));
  }

  const cursor = once('cursor');
  return { columns, filters, order, limit, after: cursor === undefined ? undefined : decodeCursor(cursor, order) };
}

function filterOf(column: ServedColumn, operator: Operator, value: string, limits: QueryLimits): Filter {
  if (operator === 'null') {
    if (value !== 'true' && value !== 'false') throw badRequest(`${column.name}__null=${JSON.stringify(value)}: expected true or false`);
    return { column, operator, values: [value] };
  }
  const values = operator === 'in' ? value.split(',') : [value];
  if (values.length > limits.maxInValues) throw badRequest(`${column.name}__in lists ${values.length} values; at most ${limits.maxInValues}`);
  for (const v of values) checkValue(column, v);
  return { column, operator, values };
}

/** The column types a filter can compare, each with the text form its values must take. */
const VALUE_FORMS: Array<{ types: RegExp; form: RegExp; expected: string }> = [
  { types: /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/, form: /^-?\d{1,39}$/, expected: 'a whole number' },
  { types: /^(FLOAT|DOUBLE|DECIMAL\(\d+,\s*\d+\))$/, form: /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/, expected: 'a number' },
  { types: /^BOOLEAN$/, form: /^(true|false)$/, expected: 'true or false' },
  { types: /^DATE$/, form: /^\d{4}-\d{2}-\d{2}$/, expected: 'a date, YYYY-MM-DD' },
  { types: /^TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?$/, form: /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/, expected: 'a date or time, e.g. 2024-01-31T12:00:00Z' },
  { types: /^VARCHAR$/, form: /^[\s\S]*$/, expected: 'text' },
];

function checkValue(column: ServedColumn, value: string): void {
  const form = VALUE_FORMS.find((f) => f.types.test(column.type));
  if (!form) throw badRequest(`column ${JSON.stringify(column.name)} is ${column.type}, which filters cannot compare`);
  if (!form.form.test(value) || !isRealDate(column.type, value)) throw badRequest(`${column.name}: ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} is not ${form.expected}`);
}

/** A date's month and day must exist (2020-13-45 has the right shape and is no date). */
function isRealDate(type: string, value: string): boolean {
  if (!/^(DATE|TIMESTAMP)/.test(type)) return true;
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** A column type as DuckDB printed it from the file, checked before it enters a CAST. */
function castType(column: ServedColumn): string {
  if (!/^[A-Z][A-Z0-9_ ]*(\(\d+(,\s*\d+)?\))?$/.test(column.type)) throw badRequest(`column ${JSON.stringify(column.name)} is ${column.type}, which cannot be compared`);
  return column.type;
}

/**
 * The cursor is opaque to clients: base64url of the order it was made for and the last row's key values.
 * A cursor made for another order would skip or repeat rows, so it is refused.
 */
export function encodeCursor(order: readonly OrderKey[], values: ReadonlyArray<string | null>): string {
  return Buffer.from(JSON.stringify({ o: orderText(order), v: values })).toString('base64url');
}

function decodeCursor(cursor: string, order: readonly OrderKey[]): Array<string | null> {
  let data: { o?: unknown; v?: unknown };
  try {
    data = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown; v?: unknown };
  } catch {
    throw badRequest('cursor is not one this server gave out; pass the "next" value of the previous page as it is');
  }
  if (typeof data !== 'object' || data === null || !Array.isArray(data.v) || !data.v.every((v) => v === null || typeof v === 'string')) {
    throw badRequest('cursor is not one this server gave out; pass the "next" value of the previous page as it is');
  }
  if (data.o !== orderText(order)) throw badRequest(`cursor was made for order=${String(data.o)}, not order=${orderText(order)}; keep the order while paging`);
  return data.v as Array<string | null>;
}

function orderText(order: readonly OrderKey[]): string {
  return order.map((key) => `${key.descending ? '-' : ''}${key.column.name}`).join(',');
}

export interface BuiltQuery {
  sql: string;
  params: string[];
  /** Names of the extra columns holding each key as text (pages only), for the next cursor. */
  keyColumns: string[];
}

/**
 * How a query is shaped: `page` is a JSON page that can say where the next one starts (the tiebreak and the
 * keys as text, one row more than the limit); `untied` the same page without the tiebreak, tried first when
 * there is no cursor, since reading each row's position costs a scan about twice as long and a selection that
 * fits one page needs no next cursor (rows tying on `order` then come in no set order); `stream` the whole
 * selection, ordered (and tie-broken as pages are) only when asked.
 */
export type QueryShape = 'page' | 'untied' | 'stream';

/**
 * SELECT … FROM the pinned files WHERE filters [AND after the cursor] ORDER BY keys, tiebreak LIMIT n.
 * Keyset pagination: the order is made total by the tiebreak (which file, which row in it), and the next page
 * starts strictly after the previous page's last key, so each row comes exactly once whatever the order's
 * duplicates, and no page scans past rows it skips (no OFFSET). NULLs sort last ascending and first
 * descending (as the greatest value); the comparison below follows that.
 */
export function buildRowsSql(query: RowsQuery, table: PinnedTable, shape: QueryShape): BuiltQuery {
  const params: string[] = [];
  const bind = (value: string): string => `$${params.push(value)}`;
  const from = table.from(bind);
  const conditions = query.filters.map((filter) => filterSql(filter, bind));
  // An ordered stream is sorted anyway: with the tiebreak its rows tie-break as the JSON pages do.
  const tiebreak = shape === 'page' || query.after !== undefined || (shape === 'stream' && query.order.length > 0);
  const keys: SortKey[] = [
    ...query.order.map((key) => ({ expression: quoteIdentifier(key.column.name), type: castType(key.column), descending: key.descending })),
    ...(tiebreak ? table.tiebreak.map((key) => ({ ...key, descending: false })) : []),
  ];
  if (query.after) {
    if (query.after.length !== keys.length) throw badRequest('cursor does not fit this dataset any more (its files changed); start again without cursor');
    conditions.push(afterSql(keys, query.after, bind));
  }
  const keyColumns = shape === 'page' ? keys.map((_, i) => `__key${i}`) : [];
  const select = [...query.columns.map((c) => quoteIdentifier(c.name)), ...keyColumns.map((name, i) => `CAST(${keys[i]!.expression} AS VARCHAR) AS ${name}`)];
  const orderBy = keys.map((key) => `${key.expression} ${key.descending ? 'DESC NULLS FIRST' : 'ASC NULLS LAST'}`);
  const sql = [
    `SELECT ${select.join(', ')} FROM ${from}`,
    conditions.length > 0 ? `WHERE ${conditions.map((c) => `(${c})`).join(' AND ')}` : '',
    // Unordered, DuckDB keeps the files' own order (preserve_insertion_order) and streams without sorting.
    orderBy.length > 0 ? `ORDER BY ${orderBy.join(', ')}` : '',
    query.limit === undefined ? '' : `LIMIT ${query.limit + (shape === 'stream' ? 0 : 1)}`,
  ].filter(Boolean).join(' ');
  return { sql, params, keyColumns };
}

function filterSql(filter: Filter, bind: (value: string) => string): string {
  const name = quoteIdentifier(filter.column.name);
  if (filter.operator === 'null') return `${name} IS ${filter.values[0] === 'true' ? '' : 'NOT '}NULL`;
  const type = castType(filter.column);
  const value = (v: string): string => `CAST(${bind(v)} AS ${type})`;
  if (filter.operator === 'in') return `${name} IN (${filter.values.map(value).join(', ')})`;
  return `${name} ${SQL_OPERATOR[filter.operator]} ${value(filter.values[0]!)}`;
}

interface SortKey {
  expression: string;
  type: string;
  descending: boolean;
}

/** Rows strictly after `after` in the order of `keys`: the first key greater, or equal and the next greater, … */
function afterSql(keys: readonly SortKey[], after: ReadonlyArray<string | null>, bind: (value: string) => string): string {
  const value = (i: number): string => `CAST(${bind(after[i]!)} AS ${keys[i]!.type})`;
  const equal = (i: number): string => (after[i] === null ? `${keys[i]!.expression} IS NULL` : `${keys[i]!.expression} = ${value(i)}`);
  const greater = (i: number): string => {
    const key = keys[i]!;
    if (key.descending) return after[i] === null ? `${key.expression} IS NOT NULL` : `${key.expression} < ${value(i)}`;
    return after[i] === null ? 'FALSE' : `(${key.expression} > ${value(i)} OR ${key.expression} IS NULL)`;
  };
  return keys.map((_, i) => [...keys.slice(0, i).map((__, j) => equal(j)), greater(i)].join(' AND ')).map((c) => `(${c})`).join(' OR ');
}
