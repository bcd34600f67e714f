import { DataError } from '../../core/errors.js';

/**
 * SQL for DuckDB is never built by pasting values: file paths, partition values and limits are bound as
 * parameters (`$1`, `$2`, …). What cannot be bound is a column name, and this is the one way one enters
 * SQL: double-quoted, inner quotes doubled. A NUL cannot be quoted (DuckDB ends the name there), so a
 * name holding one is refused.
 */
export function quoteIdentifier(name: string): string {
  if (name.includes('\0')) throw new DataError(`column name ${JSON.stringify(name)} holds a NUL character, which SQL cannot name`);
  return `"${name.replace(/"/g, '""')}"`;
}
