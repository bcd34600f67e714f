import { DataError } from '../../core/errors.js';
import type { JsonColumn, JsonTableDeclaration } from '../json/json-table.js';

/**
 * Supermetrics answers carry their own columns: `meta.query.fields` (field_name, field_type dim/met or
 * DIMENSION/METRIC, field_split row/column) and `data`, an array of arrays. With a column split, data[0]
 * is a header row whose names include the pivoted values. Columns are snake_case names; dimensions are
 * text (DATE when named date), metrics DOUBLE.
 */
interface QueryField {
  field_id?: string;
  field_name?: string;
  field_type?: string;
  field_split?: string;
}

interface QueryAnswer {
  meta?: { query?: { fields?: QueryField[] } };
  data?: unknown[][];
}

export function snakeCase(name: string): string {
  return name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'column';
}

const isDimension = (field: QueryField): boolean => /^dim/i.test(field.field_type ?? '');

/** Column names and kinds of one answer, and where its data rows start. */
export function answerLayout(body: unknown, file: string): { columns: Array<{ name: string; dimension: boolean }>; firstRow: number } {
  const answer = body as QueryAnswer;
  const fields = answer.meta?.query?.fields;
  if (!Array.isArray(fields) || !Array.isArray(answer.data)) throw new DataError(`${file}: expected meta.query.fields and data in a Supermetrics answer`);
  const pivoted = fields.some((f) => f.field_split === 'column');
  const names = fields.map((f) => f.field_name ?? f.field_id ?? '');
  const first = answer.data[0];
  const headerGiven = Array.isArray(first) && (pivoted || (first.length === names.length && first.every((cell, i) => cell === names[i])));
  if (!headerGiven) {
    return { columns: fields.map((f, i) => ({ name: snakeCase(names[i]!), dimension: isDimension(f) })), firstRow: 0 };
  }
  // Pivoted: the row-split dimensions come first, then one column per pivoted value and metric.
  const rowDimensions = fields.filter((f) => isDimension(f) && f.field_split !== 'column').length;
  return { columns: (first as unknown[]).map((cell, i) => ({ name: snakeCase(String(cell)), dimension: pivoted ? i < rowDimensions : isDimension(fields[i] ?? {}) })), firstRow: 1 };
}

export function queryDeclaration(layout: ReturnType<typeof answerLayout>): JsonTableDeclaration {
  const columns: JsonColumn[] = layout.columns.map(({ name, dimension }) => ({
    name,
    path: name,
    type: !dimension ? 'double' : /(^|_)date$/.test(name) ? 'date' : 'string',
    required: dimension,
  }));
  const key = JSON.stringify(layout.columns);
  return {
    name: 'query',
    title: 'Supermetrics query results, one row per combination of dimensions',
    records: (body) => {
      const own = answerLayout(body, 'raw file');
      if (JSON.stringify(own.columns) !== key) {
        throw new DataError(`the query's columns changed between raw files (${own.columns.map((c) => c.name).join(', ')} vs ${layout.columns.map((c) => c.name).join(', ')})`, {
          hint: 'extract the whole period again with --refresh',
        });
      }
      return (body as QueryAnswer).data!.slice(own.firstRow).map((row) => Object.fromEntries(layout.columns.map((c, i) => [c.name, row[i]])));
    },
    columns,
    ignore: ['$.meta', '$.paging'],
    dedupeOn: layout.columns.filter((c) => c.dimension).map((c) => c.name),
  };
}
