import { ConfigError, DataError } from '../core/errors.js';

/** One top-level field of a Delta schema (StructField in PROTOCOL.md's JSON serialisation). */
export interface DeltaField {
  name: string;
  type: string;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

/** DuckDB column types etl writes, and their Delta primitive types. */
const PRIMITIVES: Record<string, string> = {
  VARCHAR: 'string',
  BIGINT: 'long',
  INTEGER: 'integer',
  SMALLINT: 'short',
  TINYINT: 'byte',
  DOUBLE: 'double',
  FLOAT: 'float',
  BOOLEAN: 'boolean',
  DATE: 'date',
  BLOB: 'binary',
  // A timestamp without zone is written as UTC instants (the data files cast it): Delta's plain `timestamp` is what
  // every reader of a writer-version-2 table knows; `timestamp_ntz` needs table features (writer version 7).
  TIMESTAMP: 'timestamp',
  'TIMESTAMP WITH TIME ZONE': 'timestamp',
};

/** The DuckDB type a Delta primitive type reads as (a reader casting partition values needs it); undefined for nested types. */
export function duckTypeOf(deltaType: string): string | undefined {
  if (deltaType === 'timestamp') return 'TIMESTAMP WITH TIME ZONE';
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(deltaType);
  if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  return Object.entries(PRIMITIVES).find(([, primitive]) => primitive === deltaType)?.[0];
}

/** The Delta type of a DuckDB column type; a DataError naming the column for types a version-2 table cannot hold. */
export function deltaTypeOf(column: string, duckType: string): string {
  const primitive = PRIMITIVES[duckType];
  if (primitive) return primitive;
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(duckType.replace(/\s/g, ''));
  if (decimal) return `decimal(${decimal[1]},${decimal[2]})`;
  throw new DataError(`column ${JSON.stringify(column)} is ${duckType}, which etl does not write to Delta tables`, {
    hint: 'Delta tables take strings, integers, floating point, decimals, booleans, dates, timestamps and binary; write this dataset as plain parquet',
  });
}

export function schemaFields(columns: ReadonlyArray<{ name: string; type: string }>): DeltaField[] {
  return columns.map((column) => ({ name: column.name, type: deltaTypeOf(column.name, column.type), nullable: true, metadata: {} }));
}

export function schemaString(fields: readonly DeltaField[]): string {
  return JSON.stringify({ type: 'struct', fields });
}

/** The fields of a table's schemaString; nested types are kept as they are (etl only compares them by JSON). */
export function parseSchemaString(text: string, where: string): DeltaField[] {
  try {
    const parsed = JSON.parse(text) as { type?: string; fields?: Array<{ name: string; type: unknown; nullable?: boolean; metadata?: Record<string, unknown> }> };
    if (parsed.type !== 'struct' || !Array.isArray(parsed.fields)) throw new Error('not a struct');
    return parsed.fields.map((field) => ({ name: field.name, type: typeof field.type === 'string' ? field.type : JSON.stringify(field.type), nullable: field.nullable !== false, metadata: field.metadata ?? {} }));
  } catch (error) {
    throw new DataError(`${where}: the table's schemaString is not a Delta schema (${(error as Error).message})`, { hint: 'the table log is damaged' });
  }
}

/**
 * How the table's schema changes with this run's columns: the same (undefined), or the old fields plus new
 * nullable ones at the end. A column whose type changed is refused, naming it: Delta readers would misread the
 * old files. A column the run no longer has stays in the schema (old files keep it; new ones read as null).
 */
export function evolveSchema(current: readonly DeltaField[], incoming: readonly DeltaField[], table: string): DeltaField[] | undefined {
  const byName = new Map(current.map((field) => [field.name, field]));
  const added: DeltaField[] = [];
  for (const field of incoming) {
    const existing = byName.get(field.name);
    if (!existing) added.push(field);
    else if (existing.type !== field.type) {
      throw new DataError(`column ${JSON.stringify(field.name)} is ${field.type} in this run but ${existing.type} in the Delta table ${table}: a type change is refused`, {
        hint: 'cast the column back to its type in the dataset declaration, or write to a new table',
      });
    }
  }
  return added.length > 0 ? [...current, ...added] : undefined;
}

/** The partition columns must stay what the table was created with. */
export function checkPartitionColumns(current: readonly string[], incoming: readonly string[], table: string): void {
  if (current.join('\u0000') !== incoming.join('\u0000')) {
    const shown = (columns: readonly string[]) => (columns.length > 0 ? `partitioned by ${columns.join(', ')}` : 'not partitioned');
    throw new ConfigError(`the Delta table ${table} is ${shown(current)}; this run's rows are ${shown(incoming)}`, {
      hint: current.length > 0 ? `pass --partition-by ${current.join(',')}` : 'drop --partition-by, or write to a new table',
    });
  }
}
