import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_KEY_TEMPLATE } from '../load/object-key.js';

/** A whole number of at least 1 (concurrency, seconds, rows to show). */
export function parsePositiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return number;
}

/** A whole number of 0 or more (retries: 0 means one attempt only). */
export function parseCount(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError('expected a whole number of 0 or more');
  return number;
}

/** A number of 0 or more, fractions allowed (requests per second). */
export function parseRate(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new InvalidArgumentError('expected a number of 0 or more, e.g. 2 or 0.5');
  return number;
}

export const dataDirOption = (): Option =>
  new Option('--data-dir <dir>', 'root of the data layout (raw files under <dir>/raw/<source>/<dataset>/)').env('ETL_DATA_DIR').default('data');

export const datasetFileOption = (): Option =>
  new Option('--dataset-file <file.json>', 'a dataset declaration (JSON) to use instead of a built-in dataset; see `etl datasets`');

/** Flags every source's extract takes; a source's own flags come from its declaration. */
export const fetchOptions = (): Option[] => [
  new Option('--concurrency <n>', 'downloads at once').argParser(parsePositiveInt).default(4),
  new Option('--timeout <seconds>', 'give up on a connection silent this long (no headers, or no body bytes)').argParser(parsePositiveInt).default(30),
  new Option('--download-timeout <seconds>', 'give up on one file (or the page) after this long, retries included').argParser(parsePositiveInt).default(300),
  new Option('--retries <n>', 'extra attempts on 429, 5xx and dropped connections, with backoff').argParser(parseCount).default(4),
  new Option('--rate-limit <per-second>', 'requests per second to any one host (0: no limit)').argParser(parseRate).default(5),
];

/** What `transform` accepts besides a source's own flags; `run` and `plan` accept the same. */
export interface TransformFlags {
  out?: string;
  skipBad: boolean;
  partitionBy?: string;
}

export const transformOptions = (): Option[] => [
  new Option('-o, --out <file>', 'parquet file to write (default: <data-dir>/processed/<source>/<dataset>.parquet)'),
  new Option('--skip-bad', 'report and leave out an input file that does not look as declared, instead of failing').default(false),
  new Option('--partition-by <column>', 'write a Hive-partitioned folder (<column>=<value>/part-0.parquet, _manifest.json) instead of one file; only changed partitions are rewritten'),
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
