import { ConfigError } from '../core/errors.js';
import { parseTableName, type TableName } from '../core/postgres.js';

/** A Postgres destination as the flags give it, checked before anything runs (no database code here). */
export type LoadMode = 'replace' | 'append' | 'merge';
export const LOAD_MODES: readonly LoadMode[] = ['replace', 'append', 'merge'];

export interface PostgresTarget {
  url: string;
  table: TableName;
  mode: LoadMode;
  /** Merge key columns; undefined: the table's primary key (or unique index) when it has one. */
  key: string[] | undefined;
}

/** Checks the flags of a Postgres destination before anything runs. */
export function postgresTarget(url: string, table: string | undefined, mode: string | undefined, key: string | undefined): PostgresTarget {
  if (!table) throw new ConfigError('--to postgres://… needs --table schema.table', { hint: 'e.g. --table ons.monthly_deaths' });
  const loadMode = (mode ?? 'replace') as LoadMode;
  if (!LOAD_MODES.includes(loadMode)) throw new ConfigError(`--mode ${mode}: expected one of ${LOAD_MODES.join(', ')}`);
  const columns = key?.split(',').map((c) => c.trim()).filter(Boolean);
  for (const column of columns ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(column)) throw new ConfigError(`--key ${key}: ${JSON.stringify(column)} is not a column name`, { hint: 'list the key columns, comma-separated: --key edition,period,geo_code' });
  }
  if (columns && loadMode !== 'merge') throw new ConfigError(`--key goes with --mode merge (the mode is ${loadMode})`, { hint: 'add --mode merge, or drop --key' });
  return { url, table: parseTableName(table), mode: loadMode, key: columns?.map((c) => c.toLowerCase()) };
}

