import { InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../core/errors.js';
import { DEFAULT_KEY_TEMPLATE } from '../load/object-key.js';

/**
 * Numbers on the command line are written in plain decimal: `Number()` alone would also take `0x10`, `1e3`,
 * `0b1`, ` 7` and the empty string (as 0), which nobody means for a count.
 */
const DECIMAL_WHOLE = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

/** A whole number of at least 1 (concurrency, rows to show). */
export function parsePositiveInt(value: string): number {
  const number = DECIMAL_WHOLE.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('expected a whole number of 1 or more, in decimal digits');
  return number;
}

/** A whole number of 0 or more (retries: 0 means one attempt only). */
export function parseCount(value: string): number {
  const number = DECIMAL_WHOLE.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < 0) throw new InvalidArgumentError('expected a whole number of 0 or more, in decimal digits');
  return number;
}

/** Node's timers hold at most 2^31-1 ms: a longer one fires at once (with a TimeoutOverflowWarning), not late. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** The longest duration in whole seconds a flag may ask for: 2147483 s, about 24.8 days. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** Whole seconds, 1 to MAX_TIMER_SECONDS (--timeout, --download-timeout, --step-timeout). */
export function parseSeconds(value: string): number {
  const seconds = parsePositiveInt(value);
  if (seconds > MAX_TIMER_SECONDS) throw new InvalidArgumentError(tooLong(seconds));
  return seconds;
}

/** The same bound for a duration from a config file, where the flag parser did not run; `what` names where it came from. */
export function checkTimerSeconds(seconds: number | undefined, what: string): void {
  if (seconds !== undefined && seconds > MAX_TIMER_SECONDS) throw new ConfigError(`${what} ${seconds}: ${tooLong(seconds)}`, { hint: 'leave it out for no limit, or give a shorter time' });
}

function tooLong(seconds: number): string {
  return `expected at most ${MAX_TIMER_SECONDS} seconds (about 24.8 days: a longer timer would fire at once, not after ${seconds} s)`;
}

/** The slowest rate limit: one request per 1,000 s (a slower one would wait past what a timer can hold). */
const MIN_RATE = 0.001;

/** A number of 0 or more, fractions allowed (requests per second; 0: no limit). */
export function parseRate(value: string): number {
  const number = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(number) || number < 0) throw new InvalidArgumentError('expected a number of 0 or more in decimal digits, e.g. 2 or 0.5');
  if (number > 0 && number < MIN_RATE) throw new InvalidArgumentError(`expected 0 (no limit) or at least ${MIN_RATE} (one request per 1000 s)`);
  return number;
}

export const dataDirOption = (): Option =>
  new Option('--data-dir <dir>', 'root of the data layout (raw files under <dir>/raw/<source>/<dataset>/)').env('ETL_DATA_DIR').default('data');

export const datasetFileOption = (): Option =>
  new Option('--dataset-file <file.json>', 'a dataset declaration (JSON) to use instead of a built-in dataset; see `etl datasets`');

/** Flags every source's extract takes; a source's own flags come from its declaration. */
export const fetchOptions = (): Option[] => [
  new Option('--concurrency <n>', 'downloads at once').argParser(parsePositiveInt).default(4),
  new Option('--timeout <seconds>', 'give up on a connection silent this long (no headers, or no body bytes)').argParser(parseSeconds).default(30),
  new Option('--download-timeout <seconds>', 'give up on one file (or the page) after this long, retries included').argParser(parseSeconds).default(300),
  new Option('--retries <n>', 'extra attempts on 429, 5xx and dropped connections, with backoff').argParser(parseCount).default(4),
  new Option('--rate-limit <per-second>', 'requests per second to any one host (0: no limit)').argParser(parseRate).default(5),
];

/** What `transform` accepts besides a source's own flags; `run` and `plan` accept the same. */
export interface TransformFlags {
  out?: string;
  skipBad: boolean;
  partitionBy?: string;
  format?: string;
  mergeKey?: string;
}

export const transformOptions = (): Option[] => [
  new Option('-o, --out <file>', 'parquet file to write (default: <data-dir>/processed/<source>/<dataset>.parquet)'),
  new Option('--skip-bad', 'report and leave out an input file that does not look as declared, instead of failing').default(false),
  new Option('--partition-by <column>', 'write a Hive-partitioned folder (<column>=<value>/part-0.parquet, _manifest.json) instead of one file; only changed partitions are rewritten'),
  new Option('--format <format>', 'parquet (a file, or a Hive folder with --partition-by) or delta (a Delta Lake table: one commit per run; with --bucket, the table is <bucket>/<dataset>/)').choices(['parquet', 'delta']),
  new Option('--merge-key <columns>', 'with --format delta: rows whose key (comma-separated columns, identifying one row) is in the table replace it, new keys are added, other rows kept; only partitions the run holds are rewritten'),
];

/** What `load` accepts besides the files; `run` and `plan` accept the same (--bucket optional there). */
export interface LoadFlags {
  bucket?: string;
  /** The general destination flag: what --bucket takes, or postgres://user@host/db (with --table). */
  to?: string;
  table?: string;
  mode?: string;
  key: string;
  endpoint?: string;
  region?: string;
  dryRun: boolean;
  force: boolean;
}

export const loadOptions = (): Option[] => [
  new Option('--bucket <uri>', 'destination: gs://bucket/prefix/, s3://bucket/prefix/, file:///dir/ or a path starting with /, ./ or ../'),
  new Option('--to <destination>', 'destination: what --bucket takes, or a Postgres table: postgres://user@host:5432/db with --table'),
  new Option('--table <schema.table>', 'with --to postgres://…: the table to load (created when absent)'),
  new Option('--mode <mode>', 'with --to postgres://…: replace (default: swapped in whole), append, or merge (on --key)'),
  new Option('--key <template>', 'object key below the prefix; placeholders {name}, {date}, {edition}. With --mode merge: the key columns, comma-separated').default(DEFAULT_KEY_TEMPLATE),
  new Option('--endpoint <url>', 'an emulator or S3-compatible server instead of the cloud endpoint'),
  new Option('--region <name>', 'S3 region (default: AWS_REGION or the profile)'),
  new Option('--dry-run', 'say what would be uploaded where, and send nothing: a bucket is not contacted; a local directory is compared (skip when the same)').default(false),
  new Option('--force', 'upload even when the destination already holds the same content').default(false),
];
