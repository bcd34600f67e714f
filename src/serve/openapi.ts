import { VERSION } from '../version.js';
import type { DatasetDescription } from './describe-dataset.js';
import { OPERATORS, type QueryLimits } from './rows-query.js';

type JsonSchema = Record<string, unknown>;

/** A column's values as the JSON answer writes them (formats.ts jsonConverter). */
function valueSchema(type: string): JsonSchema {
  if (/^(TINYINT|SMALLINT|INTEGER|UTINYINT|USMALLINT|UINTEGER)$/.test(type)) return { type: 'integer' };
  if (/^(BIGINT|HUGEINT|UBIGINT|UHUGEINT)$/.test(type)) return { type: ['integer', 'string'], description: 'a number when |n| ≤ 2^53 − 1, else its digits as a string' };
  if (/^(FLOAT|DOUBLE)$/.test(type)) return { type: 'number' };
  if (/^DECIMAL/.test(type)) return { type: 'string', description: 'a decimal, as text (exact)' };
  if (type === 'BOOLEAN') return { type: 'boolean' };
  if (type === 'DATE') return { type: 'string', format: 'date' };
  if (/^TIMESTAMP/.test(type)) return { type: 'string', format: 'date-time' };
  if (type === 'VARCHAR') return { type: 'string' };
  return { description: `DuckDB ${type}, as DuckDB writes it in JSON` };
}

const OPERATOR_HELP: Record<(typeof OPERATORS)[number], string> = {
  eq: 'equal to',
  ne: 'not equal to',
  gt: 'greater than',
  gte: 'greater than or equal to',
  lt: 'less than',
  lte: 'less than or equal to',
  in: 'one of these comma-separated values',
  null: 'true: only nulls; false: no nulls',
};

/** OpenAPI 3.1, generated from the datasets' schemas as they are now: one rows path per dataset, a filter parameter per column and operator. */
export function openApiDocument(datasets: readonly DatasetDescription[], limits: QueryLimits): Record<string, unknown> {
  const paths: Record<string, unknown> = {
    '/healthz': { get: { summary: 'liveness', security: [], responses: { 200: { description: 'the server is up' } } } },
    '/v1/datasets': { get: { summary: 'every dataset: columns, rows, files, last run, freshness', responses: { 200: { description: 'the datasets' } } } },
    '/year/{year}/geo_code/{geo_code}': {
      get: {
        summary: "one area's monthly deaths in one year, from ons/monthly-deaths (the seed pipeline's route)",
        parameters: [
          { name: 'year', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d{4}$' } },
          { name: 'geo_code', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9]{1,16}$' } },
        ],
        responses: {
          200: { description: '{"year", "geo_code", "data": {"YYYY-MM-DD": deaths}}', content: { 'application/json': { schema: { type: 'object', properties: { year: { type: 'integer' }, geo_code: { type: 'string' }, data: { type: 'object', additionalProperties: { type: ['integer', 'null'] } } } } } } },
          404: { description: 'no figures for that area and year' },
        },
      },
    },
  };
  const schemas: Record<string, unknown> = {};
  for (const dataset of datasets) {
    const schemaName = dataset.id.replace(/[^A-Za-z0-9_.-]/g, '_');
    schemas[schemaName] = {
      type: 'object',
      properties: Object.fromEntries(dataset.columns.map((c) => [c.name, { ...valueSchema(c.type), ...(c.description ? { description: c.description } : {}) }])),
    };
    const filters = dataset.columns.flatMap((column) =>
      OPERATORS.map((operator) => ({
        name: operator === 'eq' ? column.name : `${column.name}__${operator}`,
        in: 'query',
        required: false,
        description: `${column.name} ${OPERATOR_HELP[operator]}${operator === 'in' ? ` (at most ${limits.maxInValues})` : ''}`,
        schema: { type: 'string' },
      })),
    );
    paths[`/v1/datasets/${dataset.source}/${dataset.name}`] = { get: { summary: `${dataset.id}: columns, rows, files, last run`, responses: { 200: { description: 'the dataset' } } } };
    paths[`/v1/datasets/${dataset.source}/${dataset.name}/rows`] = {
      get: {
        summary: `rows of ${dataset.id}`,
        parameters: [
          { name: 'columns', in: 'query', schema: { type: 'string' }, description: 'comma-separated columns to return (default: all)' },
          { name: 'order', in: 'query', schema: { type: 'string' }, description: 'comma-separated columns; -col for descending. Nulls sort last ascending, first descending' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: limits.maxJsonRows }, description: `rows per JSON page (default ${limits.defaultLimit}); CSV, NDJSON and parquet send every row unless given` },
          { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'the "next" of the previous page, with the same order' },
          { name: 'format', in: 'query', schema: { enum: ['json', 'ndjson', 'csv', 'parquet'] }, description: 'or ask by the Accept header' },
          ...filters,
        ],
        responses: {
          200: {
            description: 'a page of rows (JSON) or the whole selection (other formats)',
            content: {
              'application/json': { schema: { type: 'object', properties: { rows: { type: 'array', items: { $ref: `#/components/schemas/${schemaName}` } }, next: { type: ['string', 'null'] } } } },
              'application/x-ndjson': {},
              'text/csv': {},
              'application/vnd.apache.parquet': {},
            },
          },
          400: { description: 'an unknown column or operator, a value that does not fit its column, a limit over the cap: {"error": "…"}' },
          503: { description: 'the query ran past its time limit, or the server is busy' },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'etl serve', version: VERSION, description: 'Read-only access to the datasets in the processed layer of an etl data dir.' },
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
  };
}
