import { ConfigError } from '../core/errors.js';

/** How a run writes its table: one parquet file (or a Hive folder), or a Delta table. */
export type OutputFormat = 'parquet' | 'delta';

export function parseFormat(value: unknown, flag = '--format'): OutputFormat {
  if (value === undefined || value === 'parquet' || value === 'delta') return (value ?? 'parquet') as OutputFormat;
  throw new ConfigError(`${flag} ${String(value)}: expected parquet or delta`, { hint: 'parquet (the default) writes a file or a Hive-partitioned folder; delta writes a Delta Lake table' });
}

/** `date,campaign_id` -> ['date', 'campaign_id']; --merge-key only means something for a Delta table. */
export function parseMergeKey(value: unknown, format: OutputFormat): string[] | undefined {
  if (value === undefined) return undefined;
  const columns = String(value).split(',').map((column) => column.trim());
  if (columns.some((column) => column === '')) throw new ConfigError(`--merge-key ${String(value)}: an empty column name`, { hint: 'write the key columns comma-separated, e.g. --merge-key date,campaign_id' });
  if (format !== 'delta') throw new ConfigError('--merge-key goes with --format delta', { hint: 'add --format delta (a Postgres table merges with --mode merge --key …)' });
  return columns;
}
